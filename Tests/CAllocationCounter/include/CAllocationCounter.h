#ifndef VPNGW_ALLOCATION_COUNTER_H
#define VPNGW_ALLOCATION_COUNTER_H
// Counts malloc-family calls made by the calling thread between begin and end. Linked into a
// test executable, this file's malloc/calloc/realloc/memalign/aligned_alloc/posix_memalign take
// precedence over glibc's and forward to glibc's own implementations (__libc_*).
// Other threads are never counted, so tests running in parallel do not disturb a count.

/// Starts counting on this thread from zero.
void vpngw_allocation_counting_begin(void);
/// Stops counting on this thread and returns the number of calls since begin.
long vpngw_allocation_counting_end(void);
/// Non-zero once any allocation has gone through this interposer, i.e. the count is real.
int vpngw_allocation_counter_is_active(void);

#endif
