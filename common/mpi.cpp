#include "common/mpi.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <stdexcept>
#include <thread>

namespace ds::mpi {

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}

int count_of(int64_t n) {
  if (n < 0 || n > INT_MAX) throw std::length_error("MPI: a message of " + std::to_string(n) + " elements is too long for one call");
  return static_cast<int>(n);
}
}  // namespace

Session::Session(int& argc, char**& argv) {
  // On a machine shared with other work a rank waiting in MPI should give its core away rather
  // than spin (OpenMPI's mpi_yield_when_idle; other MPIs ignore it). An explicit setting wins.
  setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
  // Serialized threads: ch06's overlapped F&B chunk runs its backward in a second thread, the two
  // taking turns, so only one thread of a process is in MPI at a time.
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  // After MPI_Init, which may install its own handlers: ours only set the flag.
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

Session::~Session() { MPI_Finalize(); }

int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

double wtime() { return MPI_Wtime(); }

std::string placement() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::string out = std::to_string(size()) + " ranks on " + std::to_string(cores) + (cores == 1 ? " core" : " cores");
  return static_cast<unsigned>(size()) > cores ? out + ", time-sliced" : out;
}
void barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

void Requests::isend(const float* data, int64_t n, int peer, int tag) {
  reqs_.emplace_back();
  check(MPI_Isend(data, count_of(n), MPI_FLOAT, peer, tag, MPI_COMM_WORLD, &reqs_.back()), "MPI_Isend");
}

void Requests::irecv(float* data, int64_t n, int peer, int tag) {
  reqs_.emplace_back();
  check(MPI_Irecv(data, count_of(n), MPI_FLOAT, peer, tag, MPI_COMM_WORLD, &reqs_.back()), "MPI_Irecv");
}

void Requests::wait() {
  // MPI_Waitall spins on the core; with more ranks than cores (mpirun --oversubscribe) a waiting
  // rank would take the core from the rank it waits for. Testing and sleeping 50 us between
  // tests gives the core back at the cost of at most that much latency.
  int done = 0;
  while (!reqs_.empty()) {
    check(MPI_Testall(static_cast<int>(reqs_.size()), reqs_.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    if (done) break;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  reqs_.clear();
}

void send_bytes(const std::string& bytes, int peer, int tag) {
  check(MPI_Send(bytes.data(), count_of(static_cast<int64_t>(bytes.size())), MPI_BYTE, peer, tag, MPI_COMM_WORLD), "MPI_Send");
}

std::string recv_bytes(int peer, int tag) {
  MPI_Status st;
  check(MPI_Probe(peer, tag, MPI_COMM_WORLD, &st), "MPI_Probe");
  int n = 0;
  MPI_Get_count(&st, MPI_BYTE, &n);
  std::string out(static_cast<size_t>(n), '\0');
  check(MPI_Recv(out.data(), n, MPI_BYTE, peer, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
  return out;
}

double allreduce_sum(double v) {
  double out = 0;
  check(MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

double allreduce_max(double v) {
  double out = 0;
  check(MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

void allreduce_sum(std::vector<double>& v) {
  check(MPI_Allreduce(MPI_IN_PLACE, v.data(), count_of(static_cast<int64_t>(v.size())), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}

void allreduce_sum(float* data, int64_t n) {
  check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}

void allreduce_sum(std::vector<float>& v) { allreduce_sum(v.data(), static_cast<int64_t>(v.size())); }

void request_stop() { g_stop = 1; }

bool stop_requested() { return allreduce_max(g_stop ? 1.0 : 0.0) > 0; }

void abort_all(const std::string& sentence, int code) {
  std::fprintf(stderr, "rank %d: %s\n", rank(), sentence.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace ds::mpi
