// A job's threads are its own.
//
// A ThreadBudget gives the calling thread a budget of N threads for the
// scope's life: N-1 helper threads that only this job uses, woken for its
// parallel loops. Every parallel loop of the job runs on them: the studio's
// own loops (parallel_for, each_row) and OpenCV's (a parallel_for backend
// that hands OpenCV's loops to the calling thread's budget, installed once
// per process). ONNX Runtime sessions are kept per budget (inference.hpp).
// So two jobs with two threads each use four threads side by side and never
// queue on one process-wide pool; a thread without a budget runs its loops
// inline.
//
// libvips's concurrency is a per-pipeline cap (each decode or encode starts
// its own threads up to it), set to the jobs' budget with
// set_image_io_threads (image_io.hpp).
#pragma once
#include <functional>
#include <memory>

namespace likeness {

class ThreadTeam;

class ThreadBudget {
 public:
  explicit ThreadBudget(int threads);
  ~ThreadBudget();
  ThreadBudget(const ThreadBudget&) = delete;
  ThreadBudget& operator=(const ThreadBudget&) = delete;
  // The calling thread's budget: 2 unless a ThreadBudget is active on it
  // (1 on a helper thread: loops inside a parallel loop run inline).
  static int current();

 private:
  int previous_budget_;
  ThreadTeam* previous_team_;
  std::shared_ptr<ThreadTeam> team_;
};

// body(begin, end) over [0, tasks) in contiguous chunks, on the calling
// thread and its budget's helpers; inline without a budget, inside another
// parallel loop, or for one task. The first exception a chunk throws is
// rethrown here after every chunk has finished.
void parallel_for(int tasks, const std::function<void(int, int)>& body);

// Installs the OpenCV backend (idempotent; ThreadBudget does it too).
void install_opencv_threads();

}  // namespace likeness
