// Shared helpers for the tests: where the real photos are, running the CLI.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace likeness {
struct Frame;
}

namespace likeness::testing {

std::string faces_dir();                       // ../shared/faces
std::string people(const std::string& f);      // ../shared/faces/people/<f>
std::string portrait(const std::string& f);    // ../shared/faces/portraits/<f>
std::string temp_dir(const std::string& tag);  // a fresh folder under /tmp
// A photo decoded as the pipeline's source frame.
std::shared_ptr<const Frame> source_frame(const std::string& path);

struct Identity {
  std::string file;
  std::string person;
};
std::vector<Identity> identities();  // people/identities.csv

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
CliResult run_cli(const std::vector<std::string>& args);
CliResult run_program(std::vector<std::string> argv);  // argv[0] looked up in PATH

// Records consent for `subject` (portraits, likeness; 30 days) via the CLI.
void grant_consent(const std::string& subject);

// A PNG whose header claims width x height (valid CRCs, stub pixel data).
std::string png_claiming(uint32_t width, uint32_t height);

void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);

}  // namespace likeness::testing
