#include "likeness/process.hpp"

#include <malloc.h>

namespace likeness {

void tune_process_memory() {
  // Blocks up to 256 MB come from the heap, not from mmap, and the heap
  // keeps up to 1 GB of freed memory instead of trimming it.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // One heap for every thread: buffers freed by one stage's worker threads
  // are reused by the next stage's, instead of each thread's heap keeping
  // its own high-water mark (12 MP bench, four runs in one process: peak
  // 1.46-1.49 GB with glibc's default of 16 heaps, 1.40-1.41 GB with one,
  // no slower; a first portrait in a fresh process 1.20-1.23 -> 1.10 GB).
  mallopt(M_ARENA_MAX, 1);
}

}  // namespace likeness
