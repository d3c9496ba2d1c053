#include "likeness/process.hpp"

#include <malloc.h>

namespace likeness {

void tune_process_memory() {
  // Blocks up to 256 MB come from the heap, not from mmap, and the heap
  // keeps up to 1 GB of freed memory instead of trimming it.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace likeness
