// thread_pool: persistent std::jthread workers that run one job on every thread and wait for it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace typegrad {

/// The thread count an option asks for: `requested`, or every hardware thread when it is 0.
inline std::size_t resolve_threads(std::size_t requested) noexcept {
  if (requested != 0) return requested;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

/// A fixed pool: size() − 1 worker threads (std::jthread, started by the constructor) plus the
/// caller. run(job) calls job(i) once for every i in [0, size()), i = 0 on the calling thread,
/// and returns when every call has returned. run() allocates nothing and must not be given a
/// job that throws. A dispatch is a counter bump and a futex wake-up (std::atomic::wait): the
/// workers spin briefly first, since data-parallel steps follow each other closely.
class thread_pool {
 public:
  /// @throws std::system_error when a thread cannot be started.
  explicit thread_pool(std::size_t threads) : size_(threads == 0 ? 1 : threads) {
    workers_.reserve(size_ - 1);
    try {
      for (std::size_t i = 1; i < size_; ++i) workers_.emplace_back([this, i] { work(i); });
    } catch (...) {
      stop();  // the threads already started must end before their std::jthread joins them
      throw;
    }
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;
  ~thread_pool() { stop(); }  // the std::jthread members join after this

  std::size_t size() const noexcept { return size_; }

  /// Calls job(i) for i in [0, size()) on the pool's threads; returns when all are done.
  template <class Job>
  void run(Job& job) noexcept {
    if (size_ == 1) {
      job(std::size_t{0});
      return;
    }
    context_ = &job;
    call_ = [](void* context, std::size_t i) noexcept { (*static_cast<Job*>(context))(i); };
    pending_.store(static_cast<std::uint32_t>(size_ - 1), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);  // publishes context_ and call_
    generation_.notify_all();
    job(std::size_t{0});
    for (std::uint32_t left = pending_.load(std::memory_order_acquire); left != 0;
         left = pending_.load(std::memory_order_acquire))
      if (!spin_until_changed(pending_, left)) pending_.wait(left, std::memory_order_acquire);
  }

 private:
  static constexpr int spin_limit = 4000;  // about 10-40 µs before sleeping in the kernel

  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  // Spins until `a` differs from `old`; false when it gave up (the caller then waits).
  static bool spin_until_changed(const std::atomic<std::uint32_t>& a, std::uint32_t old) noexcept {
    for (int k = 0; k < spin_limit; ++k) {
      if (a.load(std::memory_order_acquire) != old) return true;
      pause();
    }
    return false;
  }

  void stop() noexcept {
    stopping_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
  }

  void work(std::size_t i) noexcept {
    std::uint32_t seen = 0;
    for (;;) {
      if (!spin_until_changed(generation_, seen)) generation_.wait(seen, std::memory_order_acquire);
      const std::uint32_t now = generation_.load(std::memory_order_acquire);
      if (now == seen) continue;  // a spurious wake-up
      seen = now;
      if (stopping_.load(std::memory_order_relaxed)) return;
      call_(context_, i);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  std::size_t size_;
  void* context_ = nullptr;
  void (*call_)(void*, std::size_t) noexcept = nullptr;
  alignas(64) std::atomic<std::uint32_t> generation_{0};
  alignas(64) std::atomic<std::uint32_t> pending_{0};
  std::atomic<bool> stopping_{false};
  std::vector<std::jthread> workers_;  // last: joined (destroyed) first, while the atomics live
};

}  // namespace typegrad
