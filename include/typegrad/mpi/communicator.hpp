// typegrad::mpi::environment and communicator: the few MPI calls typegrad's distributed training makes.
#pragma once

#include <climits>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

// The C API only: MPI's deprecated C++ bindings would need their own library (libmpi_cxx).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

namespace typegrad::mpi {

/// MPI_Init on construction (unless MPI is already initialised) and MPI_Finalize on destruction
/// (only if this object initialised it). One per program, in main:
///
///     int main(int argc, char** argv) {
///       typegrad::mpi::environment env(argc, argv);
///       typegrad::mpi::communicator world;   // MPI_COMM_WORLD
///       ...
///     }
class environment {
 public:
  environment(int& argc, char**& argv) {
    int ready = 0;
    MPI_Initialized(&ready);
    if (!ready) {
      if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        throw std::runtime_error("typegrad::mpi::environment: MPI_Init failed");
      owns_ = true;
    }
  }
  environment(const environment&) = delete;
  environment& operator=(const environment&) = delete;
  ~environment() {
    int done = 0;
    MPI_Finalized(&done);
    if (owns_ && !done) MPI_Finalize();
  }

 private:
  bool owns_ = false;
};

namespace detail {

template <class T>
MPI_Datatype datatype() noexcept {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, unsigned long long>)
    return MPI_UNSIGNED_LONG_LONG;
  else
    static_assert(std::is_same_v<T, float>, "typegrad::mpi: only float, double and unsigned long long are sent");
}

// MPI counts are int: a larger buffer goes in int-sized pieces (the sums are elementwise, so the
// result is the same).
template <class F>
void in_pieces(std::size_t n, F&& f) noexcept {
  constexpr std::size_t piece = std::size_t(INT_MAX);
  for (std::size_t start = 0; start < n; start += piece)
    f(start, static_cast<int>(n - start < piece ? n - start : piece));
}

}  // namespace detail

/// A view of an MPI communicator (MPI_COMM_WORLD by default; it does not free it). Every call
/// is collective: all ranks of the communicator make it, in the same order. MPI's default error
/// handler aborts the job on a failed call, so these functions report nothing themselves.
class communicator {
 public:
  explicit communicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    int ready = 0;
    MPI_Initialized(&ready);
    if (!ready)
      throw std::logic_error(
          "typegrad::mpi::communicator: MPI is not initialised (create a typegrad::mpi::environment "
          "or call MPI_Init first)");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  MPI_Comm native() const noexcept { return comm_; }

  /// Elementwise sum over the ranks of data[0, n), in place on every rank (MPI_Allreduce). For a
  /// fixed number of ranks the result is the same from run to run (MPI's reduction order is fixed).
  template <class T>
  void sum(T* data, std::size_t n) const noexcept {
    detail::in_pieces(n, [&](std::size_t start, int count) {
      MPI_Allreduce(MPI_IN_PLACE, data + start, count, detail::datatype<T>(), MPI_SUM, comm_);
    });
  }
  /// Elementwise maximum over the ranks, in place on every rank.
  template <class T>
  void max(T* data, std::size_t n) const noexcept {
    detail::in_pieces(n, [&](std::size_t start, int count) {
      MPI_Allreduce(MPI_IN_PLACE, data + start, count, detail::datatype<T>(), MPI_MAX, comm_);
    });
  }
  /// Copies data[0, n) of rank `root` to every rank.
  template <class T>
  void broadcast(T* data, std::size_t n, int root = 0) const noexcept {
    detail::in_pieces(
        n, [&](std::size_t start, int count) { MPI_Bcast(data + start, count, detail::datatype<T>(), root, comm_); });
  }
  void barrier() const noexcept { MPI_Barrier(comm_); }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace typegrad::mpi
