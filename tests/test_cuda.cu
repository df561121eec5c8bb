// The CUDA side of the backend split: device memory, explicit transfers, and the
// device kernels that exist so far, checked against the CPU on the same data.
// Labelled `gpu` in ctest; without a GPU every case says so and passes.
#include <catch2/catch.hpp>
#include <sbgan/sbgan.hpp>

#include "support/cuda_parity.hpp"

using namespace sbgan;

TEST_CASE("without a GPU the CUDA backend refuses clearly", "[gpu]") {
  if (cuda_available()) return;
  CHECK_THROWS_WITH((Tensor<float, cuda>(Shape{4})), Catch::Contains("no CUDA GPU is present"));
}

TEST_CASE("host to device and back is exact", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  Generator g(1);
  const auto host = g.normal<float>(Shape{2, 3, 17, 9});
  const auto back = to_host(to_device(host));
  REQUIRE(back.shape() == host.shape());
  for (index_t i = 0; i < host.numel(); ++i) REQUIRE(back[i] == host[i]);
}

TEST_CASE("device fill and axpy", "[gpu]") {
  REQUIRE_GPU_OR_SKIP();
  auto y = full<float, cuda>(Shape{1000}, 2.0f);
  const auto x = full<float, cuda>(Shape{1000}, 3.0f);
  kernels::axpy(0.5f, x, y);
  const auto h = to_host(y);
  for (float v : h) REQUIRE(v == 3.5f);
}

TEST_CASE("one seed gives the same random stream on the GPU as on the CPU", "[gpu][rng]") {
  REQUIRE_GPU_OR_SKIP();
  const Shape s{3, 5, 33, 7};
  Generator gpu_gen(123), cpu_gen(123);
  Tensor<float, cuda> u(s), n(s), gum(s);
  gpu_gen.uniform(u);
  gpu_gen.normal(n);
  gpu_gen.gumbel(gum);
  const auto hu = cpu_gen.uniform<float>(s);
  const auto hn = cpu_gen.normal<float>(s);
  Tensor<float> hg(s);
  cpu_gen.gumbel(hg);
  const auto du = to_host(u), dn = to_host(n), dg = to_host(gum);
  for (index_t i = 0; i < s.numel(); ++i) {
    REQUIRE(du[i] == hu[i]);                              // exact: integer arithmetic only
    REQUIRE(dn[i] == Approx(hn[i]).margin(1e-5));         // log/cos differ in the last ulp
    REQUIRE(dg[i] == Approx(hg[i]).margin(1e-5));
  }
  CHECK(gpu_gen.offset() == cpu_gen.offset());
}
