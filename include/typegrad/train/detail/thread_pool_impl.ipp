// The definitions behind train/thread_pool.hpp: the worker threads, their wake-ups and the
// dispatch. Compiled once into the typegrad library (src/thread_pool.cpp), or included by
// train/thread_pool.hpp itself when TYPEGRAD_HEADER_ONLY is defined. Never include it directly.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <typegrad/io/detail/linkage.hpp>
#include <typegrad/train/thread_pool.hpp>

namespace typegrad {

TYPEGRAD_IO_INLINE std::size_t resolve_threads(std::size_t requested) noexcept {
  if (requested != 0) return requested;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

struct thread_pool::workers {
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

  explicit workers(std::size_t size) {
    threads.reserve(size - 1);
    try {
      for (std::size_t i = 1; i < size; ++i) threads.emplace_back([this, i] { work(i); });
    } catch (...) {
      stop();  // the threads already started must end before their std::jthread joins them
      throw;
    }
  }
  ~workers() { stop(); }  // the std::jthread members join after this

  void stop() noexcept {
    stopping.store(true, std::memory_order_relaxed);
    generation.fetch_add(1, std::memory_order_release);
    generation.notify_all();
  }

  void work(std::size_t i) noexcept {
    std::uint32_t seen = 0;
    for (;;) {
      if (!spin_until_changed(generation, seen)) generation.wait(seen, std::memory_order_acquire);
      const std::uint32_t now = generation.load(std::memory_order_acquire);
      if (now == seen) continue;  // a spurious wake-up
      seen = now;
      if (stopping.load(std::memory_order_relaxed)) return;
      call(context, i);
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) pending.notify_one();
    }
  }

  void* context = nullptr;
  void (*call)(void*, std::size_t) noexcept = nullptr;
  alignas(64) std::atomic<std::uint32_t> generation{0};
  alignas(64) std::atomic<std::uint32_t> pending{0};
  std::atomic<bool> stopping{false};
  std::vector<std::jthread> threads;  // last: joined (destroyed) first, while the atomics live
};

TYPEGRAD_IO_INLINE thread_pool::thread_pool(std::size_t threads) : size_(threads == 0 ? 1 : threads) {
  if (size_ > 1) workers_ = std::make_unique<workers>(size_);
}

TYPEGRAD_IO_INLINE thread_pool::~thread_pool() = default;

TYPEGRAD_IO_INLINE void thread_pool::dispatch(void (*call)(void*, std::size_t) noexcept, void* context) noexcept {
  workers& w = *workers_;
  w.context = context;
  w.call = call;
  w.pending.store(static_cast<std::uint32_t>(size_ - 1), std::memory_order_relaxed);
  w.generation.fetch_add(1, std::memory_order_release);  // publishes context and call
  w.generation.notify_all();
  call(context, 0);
  for (std::uint32_t left = w.pending.load(std::memory_order_acquire); left != 0;
       left = w.pending.load(std::memory_order_acquire))
    if (!workers::spin_until_changed(w.pending, left)) w.pending.wait(left, std::memory_order_acquire);
}

}  // namespace typegrad
