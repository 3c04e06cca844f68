// The thin MPI layer the multi-process programs share (OpenMPI; built only where MPI is found):
// the session, rank and size, non-blocking point-to-point of float buffers, all-reduce sums,
// and a stop that reaches every rank. A Ctrl-C (SIGINT, or the SIGTERM mpirun forwards) on any
// rank only sets a flag; the ranks agree on it at a point they all reach (stop_requested(), an
// all-reduce), so every rank stops at the same step and can checkpoint first.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ds::mpi {

// MPI_Init on construction, MPI_Finalize on destruction; installs the stop handlers.
class Session {
 public:
  Session(int& argc, char**& argv);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

int rank();   // in MPI_COMM_WORLD
int size();
double wtime();   // seconds (MPI_Wtime)
void barrier();
// "2 ranks on 2 cores", or "4 ranks on 2 cores, time-sliced": the setting a measured time was
// taken in, with every rank on this machine (as in this project's runs).
std::string placement();

// Requests posted together and completed together (MPI_Waitall), as a pipeline op's transfers are.
// The buffers must stay alive and unchanged until wait() returns.
class Requests {
 public:
  void isend(const float* data, int64_t n, int peer, int tag);
  void irecv(float* data, int64_t n, int peer, int tag);
  void wait();   // all of them
  bool empty() const { return reqs_.empty(); }

 private:
  std::vector<MPI_Request> reqs_;
};

// Blocking messages of any length (the receiver probes the length): checkpoint gathering.
void send_bytes(const std::string& bytes, int peer, int tag);
std::string recv_bytes(int peer, int tag);

double allreduce_sum(double v);
double allreduce_max(double v);
void allreduce_sum(std::vector<double>& v);   // in place, element-wise over all ranks
void allreduce_sum(std::vector<float>& v);
void allreduce_sum(float* data, int64_t n);   // n floats in place (a tensor's storage)

// True on every rank once any rank got SIGINT/SIGTERM (or request_stop()); collective: every rank
// must call it at the same point.
bool stop_requested();
void request_stop();   // what the signal handler does: this rank wants to stop

// Ends every rank at once with status `code` after printing `sentence` (an error one rank cannot
// recover from, where the others would wait for it forever).
[[noreturn]] void abort_all(const std::string& sentence, int code = 1);

}  // namespace ds::mpi
