#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

TEST_CASE("embedding, gather_rows, scatter_add_rows: values") {
  Tensor w = Tensor::from({0, 1, 10, 11, 20, 21}, {3, 2});
  CHECK(embedding(w, IntTensor({2, 0, 2}, {1, 3})).to_vector() == std::vector<float>{20, 21, 0, 1, 20, 21});
  CHECK(embedding(w, IntTensor({2, 0}, {2})).shape() == Shape{2, 2});
  CHECK_THROWS_WITH_AS(embedding(w, IntTensor({3}, {1})), "embedding: index 3 is outside [0, 3)", std::invalid_argument);
  CHECK(gather_rows(w, IntTensor({1, 1}, {2})).to_vector() == std::vector<float>{10, 11, 10, 11});
  CHECK(scatter_add_rows(w, IntTensor({1, 0, 1}, {3}), 2).to_vector() == std::vector<float>{10, 11, 20, 22});
}

TEST_CASE("index ops: gradients, including repeated indices") {
  const IntTensor ids({1, 3, 1, 0, 3, 3}, {2, 3});
  CHECK_GRAD([ids](auto& x) { return embedding(x[0], ids); }, (std::vector<Tensor>{rnd({4, 5}, 1)}));
  const IntTensor rows({2, 0, 2, 1}, {4});
  CHECK_GRAD([rows](auto& x) { return gather_rows(x[0], rows); }, (std::vector<Tensor>{rnd({3, 4}, 2)}));
  CHECK_GRAD([rows](auto& x) { return scatter_add_rows(x[0], rows, 5); }, (std::vector<Tensor>{rnd({4, 3}, 3)}));
  const IntTensor last({2, 0, 4}, {3});
  CHECK_GRAD([last](auto& x) { return gather_last(x[0], last); }, (std::vector<Tensor>{rnd({3, 5}, 4)}));
}

TEST_CASE("topk: largest first, ties to the lower index, gradient to the chosen entries") {
  Tensor x = Tensor::from({0.1f, 0.5f, 0.5f, 0.2f, 3, 2, 1, 0}, {2, 4});
  TopK t = topk(x, 2);
  CHECK(t.indices.data == std::vector<int32_t>{1, 2, 0, 1});
  CHECK(t.values.to_vector() == std::vector<float>{0.5f, 0.5f, 3, 2});
  CHECK_GRAD([](auto& v) { return topk(v[0], 3).values; }, (std::vector<Tensor>{rnd({4, 6}, 5)}));
  CHECK_THROWS_AS(topk(x, 5), std::invalid_argument);
}
