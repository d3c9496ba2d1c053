#include "testing.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "likeness/image_io.hpp"
#include "likeness/stage.hpp"

namespace likeness::testing {

namespace fs = std::filesystem;

std::string faces_dir() {
  const char* env = std::getenv("LIKENESS_FACES_DIR");
  const std::string dir = env && *env ? env : LIKENESS_FACES_DIR;
  if (!fs::is_directory(dir + "/people"))
    throw std::runtime_error("the real test photos are not at " + dir +
                             ": keep shared/ beside the repository or set LIKENESS_FACES_DIR");
  return dir;
}
std::string people(const std::string& f) { return faces_dir() + "/people/" + f; }
std::string portrait(const std::string& f) { return faces_dir() + "/portraits/" + f; }

std::string temp_dir(const std::string& tag) {
  std::string t = (fs::temp_directory_path() / ("likeness-" + tag + "-XXXXXX")).string();
  if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
  return t;
}

std::vector<Identity> identities() {
  std::ifstream in(faces_dir() + "/people/identities.csv");
  std::vector<Identity> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream s(line);
    Identity id;
    std::getline(s, id.file, ',');
    std::getline(s, id.person, ',');
    if (!id.file.empty()) out.push_back(id);
  }
  return out;
}

namespace {
uint32_t crc32(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string be32(uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
}
}  // namespace

std::string png_claiming(uint32_t w, uint32_t h) {
  std::string ihdr = be32(w) + be32(h) + std::string{8, 2, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", std::string(16, '\0')) +
         png_chunk("IEND", "");
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

CliResult run_cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv_s = {LIKENESS_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  return run_program(argv_s);
}

CliResult run_program(std::vector<std::string> argv_s) {
  const std::string dir = temp_dir("cli");
  const std::string out = dir + "/out", err = dir + "/err";
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (!freopen(out.c_str(), "w", stdout) || !freopen(err.c_str(), "w", stderr)) _exit(127);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_bytes(out);
  r.err = read_bytes(err);
  fs::remove_all(dir);
  return r;
}

void grant_consent(const std::string& subject) {
  const CliResult r = run_cli({"consent", "grant", "--subject", subject, "--by", "test suite", "--purposes",
                               "portraits,likeness", "--retention", "30", "--json"});
  if (r.exit_code != 0) throw std::runtime_error("consent grant failed: " + r.err);
}

std::shared_ptr<const Frame> source_frame(const std::string& path) {
  auto f = std::make_shared<Frame>();
  f->image = decode_image(path).bgr;
  return f;
}

}  // namespace likeness::testing
