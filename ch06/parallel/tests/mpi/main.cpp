// The MPI tests' main: every rank runs every test case (each case's collectives in the same order
// on all ranks); the job fails if any rank fails. Run as `mpirun -np 2 test_ch06_mpi` (ctest does).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <mpi.h>

#include <cstdio>

#include "ch06/parallel/data_parallel.hpp"
#include "common/run.hpp"

int main(int argc, char** argv) {
  ds::mpi::Session mpi(argc, argv);
  ds::set_threads(1);   // one rank per core
  if (ds::mpi::size() < 2 && ds::mpi::rank() == 0) std::printf("note: running on %d rank; the tests mean something with mpirun -np 2\n", ds::mpi::size());
  doctest::Context ctx(argc, argv);
  if (ds::mpi::rank() != 0) ctx.setOption("out", "/dev/null");   // one report, rank 0's; a failure anywhere fails the job
  int rc = ctx.run();
  int worst = rc;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (worst != 0 && rc == 0 && ds::mpi::rank() == 0) std::printf("another rank failed a test\n");
  return worst;
}
