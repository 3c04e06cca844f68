#include "ch02/padding.hpp"

#include <algorithm>
#include <stdexcept>

namespace ds::ch02 {

IntTensor Padding::keys(int64_t allocated) const {
  const int64_t b = key_valid.size(0), s = key_valid.size(1);
  if (allocated < s)
    throw std::invalid_argument("Padding: the mask covers " + std::to_string(s) + " keys but only " + std::to_string(allocated) + " are allocated");
  std::vector<int32_t> out(static_cast<size_t>(b * allocated), 0);
  for (int64_t r = 0; r < b; ++r) std::copy_n(key_valid.data.begin() + r * s, s, out.begin() + r * allocated);
  return IntTensor(std::move(out), {b, allocated});
}

Padding make_padding(const IntTensor& attention_mask, int64_t new_tokens) {
  if (attention_mask.shape.size() != 2 || attention_mask.size(1) < new_tokens)
    shape_error("attention_mask", "must be [B, S] with S at least the " + std::to_string(new_tokens) + " new tokens", attention_mask.shape);
  const int64_t b = attention_mask.size(0), s = attention_mask.size(1);
  Padding p{attention_mask, IntTensor(std::vector<int32_t>(static_cast<size_t>(b * new_tokens)), {b, new_tokens})};
  for (int64_t r = 0; r < b; ++r) {
    int32_t seen = 0;   // real tokens so far in this row
    for (int64_t j = 0; j < s; ++j) {
      const int32_t m = attention_mask[r * s + j];
      if (m != 0 && m != 1) throw std::invalid_argument("attention_mask: entries must be 0 or 1, got " + std::to_string(m));
      seen += m;
      if (j >= s - new_tokens) p.position_ids.data[static_cast<size_t>(r * new_tokens + j - (s - new_tokens))] = m ? seen - 1 : 0;
    }
  }
  return p;
}

LeftPadded left_pad(const std::vector<std::vector<int32_t>>& rows, int32_t pad_id) {
  size_t len = 0;
  for (const auto& r : rows) len = std::max(len, r.size());
  const auto b = static_cast<int64_t>(rows.size()), l = static_cast<int64_t>(len);
  LeftPadded out{IntTensor(std::vector<int32_t>(rows.size() * len, pad_id), {b, l}), IntTensor(std::vector<int32_t>(rows.size() * len, 0), {b, l})};
  for (size_t r = 0; r < rows.size(); ++r) {
    const size_t pad = len - rows[r].size();
    out.padded = out.padded || pad > 0;
    std::copy(rows[r].begin(), rows[r].end(), out.ids.data.begin() + static_cast<long>(r * len + pad));
    std::fill_n(out.attention_mask.data.begin() + static_cast<long>(r * len + pad), rows[r].size(), 1);
  }
  return out;
}

}  // namespace ds::ch02
