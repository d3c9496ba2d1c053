#include "likeness/threads.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/core/parallel/parallel_backend.hpp>
#include <thread>
#include <vector>

namespace likeness {

namespace {
thread_local int t_budget = 0;              // 0: no budget on this thread
thread_local ThreadTeam* t_team = nullptr;  // the budget's helpers, if any
thread_local bool t_in_loop = false;        // inside a parallel loop's chunk
thread_local int t_index = 0;               // 0 the job's thread, 1.. its helpers
}  // namespace

// N-1 helper threads of one job. One loop at a time: the job's thread runs
// it, so a second loop can only come from inside the first (and runs inline).
class ThreadTeam {
 public:
  explicit ThreadTeam(int threads) {
    for (int i = 1; i < threads; ++i) helpers_.emplace_back([this, i] { serve(i); });
  }
  ~ThreadTeam() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& t : helpers_) t.join();
  }
  int size() const { return int(helpers_.size()) + 1; }

  // False (nothing run) if another thread's loop has the team: only the
  // process's default team is shared.
  bool run(int tasks, const std::function<void(int, int)>& body) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    // A few chunks per thread so an uneven row costs little; contiguous so
    // neighbouring rows stay on one core's cache.
    const int chunks = std::min(tasks, size() * 4);
    {
      std::lock_guard<std::mutex> lock(mu_);
      body_ = &body;
      tasks_ = tasks;
      chunks_ = chunks;
      next_ = 0;
      pending_ = chunks;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return pending_ == 0; });
    body_ = nullptr;
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  void serve(int index) {
    t_index = index;
    t_budget = 1;
    unsigned long long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return quit_ || (generation_ != seen && body_ != nullptr); });
        if (quit_) return;
        seen = generation_;
      }
      work();
    }
  }

  // Takes chunks until none is left.
  void work() {
    for (;;) {
      const int c = next_.fetch_add(1);
      if (c >= chunks_) return;
      const int begin = int((long long)tasks_ * c / chunks_);
      const int end = int((long long)tasks_ * (c + 1) / chunks_);
      const bool was = t_in_loop;
      t_in_loop = true;
      try {
        (*body_)(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      t_in_loop = was;
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_.notify_all();
    }
  }

  std::vector<std::thread> helpers_;
  std::mutex busy_, mu_;
  std::condition_variable wake_, done_;
  bool quit_ = false;
  unsigned long long generation_ = 0;
  const std::function<void(int, int)>* body_ = nullptr;
  int tasks_ = 0, chunks_ = 0, pending_ = 0;
  std::atomic<int> next_{0};
  std::exception_ptr error_;
};

namespace {

// OpenCV's parallel loops on the calling thread's budget.
class BudgetBackend final : public cv::parallel::ParallelForAPI {
 public:
  void parallel_for(int tasks, FN_parallel_for_body_cb_t body, void* data) override {
    likeness::parallel_for(tasks, [&](int b, int e) { body(b, e, data); });
  }
  int getThreadNum() const override { return t_index; }
  int getNumThreads() const override { return ThreadBudget::current(); }
  // The budget is the job's, not the process's: nothing to set here.
  int setNumThreads(int) override { return ThreadBudget::current(); }
  const char* getName() const override { return "likeness-job-budget"; }
};

}  // namespace

void install_opencv_threads() {
  static std::once_flag once;
  std::call_once(once, [] { cv::parallel::setParallelForBackend(std::make_shared<BudgetBackend>(), false); });
}

ThreadBudget::ThreadBudget(int threads) : previous_budget_(t_budget), previous_team_(t_team) {
  install_opencv_threads();
  threads = std::max(1, threads);
  t_budget = threads;
  if (t_in_loop || threads == 1) {
    t_team = nullptr;
  } else if (previous_team_ && previous_team_->size() == threads) {
    // The same budget again (a pipeline inside its job): the same helpers.
  } else {
    team_ = std::make_shared<ThreadTeam>(threads);
    t_team = team_.get();
  }
}

ThreadBudget::~ThreadBudget() {
  t_budget = previous_budget_;
  t_team = previous_team_;
}

namespace {
int default_threads() { return std::max(1, std::min(int(std::thread::hardware_concurrency()), 2)); }

// Threads without a budget (tests, a tool's own threads) share one default
// team, as OpenCV's own pool would be shared; busy, they run inline.
ThreadTeam* default_team() {
  static ThreadTeam* team = default_threads() > 1 ? new ThreadTeam(default_threads()) : nullptr;  // never freed
  return team;
}
}  // namespace

int ThreadBudget::current() {
  if (t_in_loop) return 1;
  return t_budget > 0 ? t_budget : default_threads();
}

void parallel_for(int tasks, const std::function<void(int, int)>& body) {
  if (tasks <= 0) return;
  ThreadTeam* team = t_in_loop ? nullptr : t_budget > 0 ? t_team : default_team();
  if (tasks == 1 || team == nullptr || !team->run(tasks, body)) body(0, tasks);
}

}  // namespace likeness
