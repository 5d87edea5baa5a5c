// thread_pool: persistent std::jthread workers that run one job on every thread and wait for it.
#pragma once

#include <cstddef>
#include <memory>

namespace typegrad {

/// The thread count an option asks for: `requested`, or every hardware thread when it is 0.
std::size_t resolve_threads(std::size_t requested) noexcept;

/// A fixed pool: size() − 1 worker threads (std::jthread, started by the constructor) plus the
/// caller. run(job) calls job(i) once for every i in [0, size()), i = 0 on the calling thread,
/// and returns when every call has returned. run() allocates nothing and must not be given a
/// job that throws. A dispatch is a counter bump and a futex wake-up (std::atomic::wait): the
/// workers spin briefly first, since data-parallel steps follow each other closely.
/// The threads live in the typegrad library (src/thread_pool.cpp), so that <thread> and its
/// kin are not parsed by every translation unit that can fit a network.
class thread_pool {
 public:
  /// @throws std::system_error when a thread cannot be started.
  explicit thread_pool(std::size_t threads);
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool();

  std::size_t size() const noexcept { return size_; }

  /// Calls job(i) for i in [0, size()) on the pool's threads; returns when all are done.
  template <class Job>
  void run(Job& job) noexcept {
    if (size_ == 1) {
      job(std::size_t{0});
      return;
    }
    dispatch([](void* context, std::size_t i) noexcept { (*static_cast<Job*>(context))(i); }, &job);
  }

 private:
  struct workers;  // the threads and their atomics (src/thread_pool.cpp)

  // run(job) for size() > 1, with the job's type erased.
  void dispatch(void (*call)(void*, std::size_t) noexcept, void* context) noexcept;

  std::size_t size_;
  std::unique_ptr<workers> workers_;
};

}  // namespace typegrad

#ifdef TYPEGRAD_HEADER_ONLY
#include <typegrad/train/detail/thread_pool_impl.ipp>
#endif
