// The text forms of a schedule (pipeline_schedule.hpp): the compact op notation of
// tests/fixtures/dualpipe_order.txt and the sentences error messages name ops and tensors with.
#include <string>

#include "ch06/parallel/pipeline_schedule.hpp"

namespace ds::ch06 {

namespace {

// The micro-batch counted within its chunk's stream (DualPipe's direction 1 starts at M/2).
int stream_index(const Schedule& s, const Chunk& c) {
  return s.kind == ScheduleKind::DualPipe ? c.mb - c.direction * (s.micro_batches / 2) : c.mb;
}

std::string chunk_text(const Schedule& s, const Chunk& c) {
  return std::to_string(s.local_chunk(c)) + "." + std::to_string(stream_index(s, c));
}

std::string transfer_text(const Schedule& s, const Transfer& t) {
  return std::string(t.send ? "s" : "r") + std::to_string(t.peer) + ":" + (t.grad ? "g" : "a") + chunk_text(s, t.of);
}

std::string group_text(const Schedule& s, const std::vector<Transfer>& g) {
  std::string out = "[";
  for (size_t i = 0; i < g.size(); ++i) {
    if (i) out += ' ';
    out += transfer_text(s, g[i]);
  }
  return out + "]";
}

}  // namespace

std::string describe_chunk(const Schedule& s, const Chunk& c) {
  std::string out = "micro-batch " + std::to_string(c.mb) + " at stage " + std::to_string(c.stage);
  if (s.kind == ScheduleKind::DualPipe) out += " of direction " + std::to_string(c.direction);
  return out;
}

std::string describe_transfer(const Schedule& s, const Transfer& t) {
  return std::string(t.grad ? "the gradient from the backward of " : "the activation from the forward of ") + describe_chunk(s, t.of);
}

std::string format_op(const Schedule& s, const Op& op) {
  const std::string f = "F", b = op.split ? "b" : "B", w = "W";
  switch (op.kind) {
    case OpKind::F: return f + chunk_text(s, op.f);
    case OpKind::B: return b + chunk_text(s, op.b);
    case OpKind::W: return w + chunk_text(s, op.b);
    case OpKind::FB: return f + chunk_text(s, op.f) + "+" + b + chunk_text(s, op.b);
  }
  return "?";
}

std::string format_rank(const Schedule& s, int rank) {
  const RankProgram& p = s.programs.at(static_cast<size_t>(rank));
  std::string out;
  auto add = [&](const std::string& t) {
    if (!out.empty()) out += ' ';
    out += t;
  };
  for (const Op& op : p.ops) {
    if (!op.comm.empty()) add(group_text(s, op.comm));
    add(format_op(s, op));
  }
  if (!p.tail.empty()) add(group_text(s, p.tail));
  return out;
}

std::string describe_op(const Schedule& s, int rank, size_t index) {
  const Op& op = s.programs.at(static_cast<size_t>(rank)).ops.at(index);
  std::string what;
  switch (op.kind) {
    case OpKind::F: what = "the forward of " + describe_chunk(s, op.f); break;
    case OpKind::B: what = std::string(op.split ? "the input-gradient backward of " : "the backward of ") + describe_chunk(s, op.b); break;
    case OpKind::W: what = "the weight-gradient op W of " + describe_chunk(s, op.b); break;
    case OpKind::FB: what = "the overlapped forward of " + describe_chunk(s, op.f) + " and backward of " + describe_chunk(s, op.b); break;
  }
  return what + " (rank " + std::to_string(rank) + ", op " + std::to_string(index) + ")";
}

}  // namespace ds::ch06
