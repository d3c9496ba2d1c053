#include "likeness/output_job.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "likeness/error.hpp"
#include "likeness/files.hpp"
#include "likeness/hash.hpp"
#include "likeness/store.hpp"

namespace likeness {

namespace fs = std::filesystem;

namespace {

fs::path lock_path(const std::string& id) { return fs::path(data_dir()) / "jobs" / (id + ".lock"); }

// The job's lock: held (flock) for as long as its process lives, so a job
// whose lock can be taken is a job whose process is gone.
int take_lock(const std::string& id, bool wait) {
  std::error_code ec;
  fs::create_directories(lock_path(id).parent_path(), ec);
  const int fd = ::open(lock_path(id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void release_lock(int fd, const std::string& id) {
  if (fd < 0) return;
  std::error_code ec;
  fs::remove(lock_path(id), ec);
  ::close(fd);
}

// Atomically swaps two paths (both must exist); false if the file system
// cannot (then the caller falls back to two renames).
bool swap_paths(const std::string& a, const std::string& b) {
  return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

bool same_inode(const std::string& path, unsigned long long dev, unsigned long long ino) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

}  // namespace

std::string OutputJob::check_folder(Store& store, const std::string& subject, const std::string& out_dir) {
  store.recover();  // what killed jobs left, before looking at the folder
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(fs::absolute(out_dir), ec);
  if (ec || out.filename().empty() || out.filename() == "." || out.filename() == "..")
    throw Error(ErrorCode::usage, "--out " + out_dir + ": not a folder likeness can write portraits into");
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) throw Error(ErrorCode::usage, "--out " + out_dir + " is a file, not a folder");
    // One job's files per folder: never mix people, never touch files that
    // are not likeness's own.
    std::map<std::string, std::string> ours;
    for (auto& [path, who] : store.outputs_in(out.string())) ours[path] = who;
    for (const auto& e : fs::directory_iterator(out, ec)) {
      const std::string name = e.path().filename().string();
      const auto it = ours.find(e.path().string());
      if (it == ours.end() && is_atomic_temp_name(name) && e.is_regular_file()) continue;
      if (it == ours.end())
        throw Error(ErrorCode::usage, "--out " + out_dir + " holds files likeness did not write (" + name +
                                          "); portraits go into a folder of their own: give a new or empty folder");
      if (it->second != subject)
        throw Error(ErrorCode::usage,
                    "--out " + out_dir + " holds another subject's portraits; give each person a folder of their own");
    }
  }
  return out.string();
}

OutputJob::OutputJob(Store& store, const std::string& subject, const std::string& out_dir) : store_(store) {
  const fs::path out = check_folder(store, subject, out_dir);
  out_dir_ = out.string();
  subject_ = subject;
  std::error_code ec;
  fs::create_directories(out.parent_path(), ec);
  if (ec) throw Error(ErrorCode::internal, "cannot create " + out.parent_path().string() + ": " + ec.message());

  id_ = random_id("job_", 8);
  staging_ = (out.parent_path() / ("." + out.filename().string() + ".likeness-" + id_)).string();
  lock_fd_ = take_lock(id_, true);
  if (lock_fd_ < 0)
    throw Error(ErrorCode::internal, "cannot lock " + lock_path(id_).string() + ": " + std::strerror(errno));
  // Intent first: the store names the staging folder before it exists.
  try {
    store_.begin_job({id_, subject, out_dir_, staging_, "writing", 0, 0});
  } catch (...) {
    release_lock(lock_fd_, id_);
    throw;
  }
  if (::mkdir(staging_.c_str(), 0755) != 0) {
    const std::string why = std::strerror(errno);
    abandon();
    release_lock(lock_fd_, id_);
    throw Error(ErrorCode::internal, "cannot create " + staging_ + ": " + why);
  }
}

OutputJob::~OutputJob() {
  if (!committed_) abandon();
  release_lock(lock_fd_, id_);
}

std::string OutputJob::final_path(const std::string& name) const { return (fs::path(out_dir_) / name).string(); }

void OutputJob::put(const std::string& name, std::string_view bytes) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.')
    throw Error(ErrorCode::internal, "output name '" + name + "' is not a plain file name");
  write_file_atomic((fs::path(staging_) / name).string(), bytes);
  for (auto& f : files_)
    if (f.first == name) {
      f.second = sha256_hex(bytes);
      return;
    }
  files_.emplace_back(name, sha256_hex(bytes));
}

std::vector<std::string> OutputJob::commit() {
  std::vector<std::pair<std::string, std::string>> rows;
  std::vector<std::string> paths;
  for (const auto& [name, sha] : files_) {
    rows.emplace_back(final_path(name), sha);
    paths.push_back(final_path(name));
  }
  struct stat st {};
  if (::stat(staging_.c_str(), &st) != 0)
    throw Error(ErrorCode::internal, "the job's folder " + staging_ + " is gone (forgotten while it ran?)");
  fsync_dir(staging_);
  // Confirm: every file's final path and digest are recorded before any of
  // them becomes visible.
  store_.stage_job(id_, rows, st.st_dev, st.st_ino);
  std::error_code ec;
  if (fs::exists(out_dir_, ec)) {
    if (!swap_paths(staging_, out_dir_)) {
      // No atomic exchange here (some file systems): the old folder moves
      // aside first, so the new one still appears whole.
      if (::rename(out_dir_.c_str(), (staging_ + ".old").c_str()) != 0 ||
          ::rename(staging_.c_str(), out_dir_.c_str()) != 0 ||
          ::rename((staging_ + ".old").c_str(), staging_.c_str()) != 0)
        throw Error(ErrorCode::internal, "cannot move the portraits into " + out_dir_ + ": " + std::strerror(errno));
    }
  } else if (::rename(staging_.c_str(), out_dir_.c_str()) != 0) {
    throw Error(ErrorCode::internal, "cannot move the portraits into " + out_dir_ + ": " + std::strerror(errno));
  }
  fsync_dir(fs::path(out_dir_).parent_path());
  committed_ = true;
  store_.commit_job(id_);
  fs::remove_all(staging_, ec);  // the previous job's folder, if there was one
  store_.finish_job(id_);
  return paths;
}

std::string OutputJob::abandon() {
  if (committed_) return "";
  std::error_code ec;
  fs::remove_all(staging_, ec);
  std::string left;
  if (fs::exists(staging_)) left = "left " + staging_ + " (" + ec.message() + "); `likeness forget` removes it";
  try {
    if (left.empty()) store_.drop_job(id_);
  } catch (const Error& e) {
    left = std::string("could not update the store: ") + e.what();
  }
  committed_ = true;  // nothing more to undo
  return left;
}

json Store::recover(const std::string& subject) {
  const std::lock_guard<std::recursive_mutex> lock(mu_);
  json done = json::array();
  for (const JobRow& seen : unfinished_jobs(subject)) {
    const int fd = take_lock(seen.id, false);
    if (fd < 0) continue;  // its process still runs
    // Read the row again under the lock: the job may have finished between.
    JobRow j;
    for (const JobRow& r : unfinished_jobs(seen.subject))
      if (r.id == seen.id) j = r;
    if (j.id.empty()) {
      release_lock(fd, seen.id);
      continue;
    }
    std::error_code ec;
    std::string action;
    if ((j.state == "committing" && same_inode(j.out_dir, j.staging_dev, j.staging_ino)) || j.state == "committed") {
      // The rename happened: finish the commit (the previous job's rows go,
      // its files with the old folder now at the staging path).
      commit_job(j.id);
      fs::remove_all(j.staging, ec);
      finish_job(j.id);
      action = "finished";
    } else {
      // Killed before its files became visible: undo it whole (and put a
      // previous folder back where a two-rename commit had moved it aside).
      fs::remove_all(j.staging, ec);
      if (fs::exists(j.staging + ".old", ec) && !fs::exists(j.out_dir, ec))
        fs::rename(j.staging + ".old", j.out_dir, ec);
      drop_job(j.id);
      action = "undone";
    }
    done.push_back({{"job", j.id}, {"subject", j.subject}, {"out_dir", j.out_dir}, {"action", action}});
    release_lock(fd, j.id);
  }
  return done;
}

FolderSink::FolderSink(Store& store, const std::string& subject, const std::string& out_dir)
    : store_(store), subject_(subject), out_dir_(OutputJob::check_folder(store, subject, out_dir)) {}

FolderSink::~FolderSink() = default;  // an uncommitted job undoes itself

std::string FolderSink::locate(const std::string& name) const { return (fs::path(out_dir_) / name).string(); }

void FolderSink::put(const std::string& name, const std::string& bytes) {
  if (!job_) job_ = std::make_unique<OutputJob>(store_, subject_, out_dir_);
  job_->put(name, bytes);
}

void FolderSink::commit() {
  if (!job_) job_ = std::make_unique<OutputJob>(store_, subject_, out_dir_);
  job_->commit();
}

std::string FolderSink::abandon() { return job_ ? job_->abandon() : std::string(); }

}  // namespace likeness
