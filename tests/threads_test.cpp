// A job's threads are its own (threads.hpp): its parallel loops, the studio's
// and OpenCV's, run on at most its budget of threads, two jobs' loops run
// side by side instead of queueing, and the results do not depend on the
// budget.
#include "likeness/threads.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "likeness/color.hpp"
#include "likeness/image_io.hpp"
#include "likeness/parallel.hpp"
#include "testing.hpp"

using namespace likeness;

namespace {

// What one loop saw: the threads it ran on and the most chunks at once.
struct Seen {
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> active{0}, most{0};
  void enter() {
    {
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
    }
    const int now = ++active;
    int m = most.load();
    while (now > m && !most.compare_exchange_weak(m, now)) {
    }
  }
  void leave() { --active; }
};

// Each task holds its thread a while, so a free helper always finds work.
void slow_task(Seen& seen, Seen* all = nullptr) {
  seen.enter();
  if (all) all->enter();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  if (all) all->leave();
  seen.leave();
}

}  // namespace

TEST(Threads, AJobsLoopsRunOnItsBudgetOfThreads) {
  for (int budget : {1, 2, 3}) {
    const ThreadBudget b(budget);
    EXPECT_EQ(ThreadBudget::current(), budget);
    Seen seen;
    parallel_for(48, [&](int begin, int end) {
      for (int i = begin; i < end; ++i) slow_task(seen);
    });
    EXPECT_EQ(int(seen.threads.size()), budget) << "budget " << budget;
    EXPECT_EQ(seen.most.load(), budget) << "budget " << budget;
  }
}

TEST(Threads, OpenCvsLoopsFollowTheCallingJobsBudget) {
  for (int budget : {1, 3}) {
    const ThreadBudget b(budget);
    EXPECT_EQ(cv::getNumThreads(), budget);
    Seen seen;
    cv::parallel_for_(cv::Range(0, 48), [&](const cv::Range& r) {
      for (int i = r.start; i < r.end; ++i) slow_task(seen);
    });
    EXPECT_EQ(int(seen.threads.size()), budget) << "budget " << budget;
    EXPECT_LE(seen.most.load(), budget);
  }
}

// Two jobs of two threads each, started together: both run two chunks at
// once (four threads in all), neither waits for the other's loop.
TEST(Threads, TwoJobsRunSideBySideEachWithinItsBudget) {
  Seen all, a, b;
  std::atomic<int> ready{0};
  auto job = [&](Seen& mine) {
    const ThreadBudget budget(2);
    ++ready;
    while (ready < 2) std::this_thread::yield();
    parallel_for(80, [&](int begin, int end) {
      for (int i = begin; i < end; ++i) slow_task(mine, &all);
    });
  };
  std::thread ta(job, std::ref(a)), tb(job, std::ref(b));
  ta.join();
  tb.join();
  EXPECT_EQ(a.most.load(), 2);
  EXPECT_EQ(b.most.load(), 2);
  EXPECT_EQ(a.threads.size(), 2u);
  EXPECT_EQ(b.threads.size(), 2u);
  for (const auto& id : a.threads) EXPECT_EQ(b.threads.count(id), 0u) << "a thread served both jobs";
  EXPECT_EQ(all.most.load(), 4) << "the jobs' loops queued behind each other";
}

// A loop inside a loop runs inline: never more threads than the budget.
TEST(Threads, ALoopInsideALoopStaysWithinTheBudget) {
  const ThreadBudget b(2);
  Seen seen;
  parallel_for(8, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      EXPECT_EQ(ThreadBudget::current(), 1);
      parallel_for(4, [&](int b2, int e2) {
        for (int j = b2; j < e2; ++j) slow_task(seen);
      });
    }
  });
  EXPECT_LE(seen.most.load(), 2);
  EXPECT_EQ(ThreadBudget::current(), 2);
}

TEST(Threads, AnExceptionInALoopReachesTheCallerAndTheBudgetGoesOn) {
  const ThreadBudget b(2);
  std::atomic<int> ran{0}, active{0};
  bool caught = false;
  try {
    parallel_for(40, [&](int begin, int end) {
      ++active;
      for (int i = begin; i < end; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(300));
        ++ran;
        if (i == 17) {
          --active;
          throw std::runtime_error("row 17");
        }
      }
      --active;
    });
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "row 17";
    // No chunk outlives the call: the loop's frame is still in use otherwise.
    EXPECT_EQ(active.load(), 0);
  }
  EXPECT_TRUE(caught);
  EXPECT_GE(ran.load(), 30) << "the other chunks still ran";
  std::atomic<int> sum{0};
  parallel_for(100, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 4950);
}

// The same photo through OpenCV's loops and the studio's on 1 and 3
// threads: the same bytes.
TEST(Threads, ResultsDoNotDependOnTheBudget) {
  const cv::Mat photo = decode_image(likeness::testing::people("person05_1.jpg")).bgr;
  ASSERT_FALSE(photo.empty());
  auto work = [&](int threads) {
    const ThreadBudget b(threads);
    cv::Mat blurred, small;
    cv::GaussianBlur(photo, blurred, cv::Size(0, 0), 3.0);
    cv::resize(blurred, small, cv::Size(), 0.37, 0.37, cv::INTER_AREA);
    return std::make_pair(blurred, srgb8_to_lab(small));
  };
  const auto one = work(1), three = work(3);
  EXPECT_EQ(cv::norm(one.first, three.first, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(one.second, three.second, cv::NORM_INF), 0.0);
}
