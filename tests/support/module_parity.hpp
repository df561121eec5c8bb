#pragma once
// One module on both backends, for the CUDA parity tests: the CPU and the CUDA
// module are built from the same seed, must agree after construction, and then the
// CUDA one takes the CPU one's exact state, so every later comparison measures the
// kernels of the pass under test and nothing else.
//
// require_layer_parity runs a Layer through forward, backward (input and parameter
// gradients, added into random starting values: the accumulate contract) and, for a
// SecondOrderLayer, backward_second, on the same random inputs and cotangents.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <sbgan/backend/cuda/check.hpp>
#include <sbgan/backend/cuda/transfer.hpp>
#include <sbgan/core/generator.hpp>
#include <sbgan/layers/concept.hpp>
#include <sbgan/testing/tolerances.hpp>

#include "support/cuda_parity.hpp"

namespace test_support {

// The CPU and the CUDA instance of one module, each built from Generator(seed):
// make(backend tag, generator) builds it for that backend.
template <class Make>
auto on_both(std::uint64_t seed, Make make) {
  sbgan::Generator host_init(seed), device_init(seed);
  auto host = make(sbgan::cpu{}, host_init);
  auto device = make(sbgan::cuda{}, device_init);
  return std::pair{std::move(host), std::move(device)};
}

template <class M>
using parameter_of = sbgan::Parameter<typename M::value_type, typename M::backend>;
template <class M>
using tensor_of = sbgan::Tensor<typename M::value_type, typename M::backend>;

// A module's parameters (or buffers) with their names, in visiting order.
template <class M>
std::vector<std::pair<std::string, parameter_of<M>*>> parameters_of(M& m) {
  std::vector<std::pair<std::string, parameter_of<M>*>> out;
  m.visit_parameters([&](const auto& name, parameter_of<M>& p) { out.emplace_back(std::string(name), &p); });
  return out;
}
template <class M>
std::vector<std::pair<std::string, tensor_of<M>*>> buffers_of(M& m) {
  std::vector<std::pair<std::string, tensor_of<M>*>> out;
  sbgan::visit_buffers(m, [&](const auto& name, tensor_of<M>& t) { out.emplace_back(std::string(name), &t); });
  return out;
}

// Host and device entries side by side; both modules must name the same things.
template <class H, class D>
auto paired(std::vector<std::pair<std::string, H*>> host, std::vector<std::pair<std::string, D*>> device) {
  REQUIRE(host.size() == device.size());
  std::vector<std::pair<H*, D*>> out;
  for (std::size_t i = 0; i < host.size(); ++i) {
    REQUIRE(host[i].first == device[i].first);
    out.emplace_back(host[i].second, device[i].second);
  }
  return out;
}

// Copies into the device tensor's own storage: modules keep shallow copies of their
// tensors, which must see the new values.
template <class T>
void upload(const sbgan::Tensor<T, sbgan::cpu>& host, sbgan::Tensor<T, sbgan::cuda>& device) {
  REQUIRE(host.shape() == device.shape());
  if (host.empty()) return;
  SBGAN_CUDA_CHECK(cudaMemcpy(device.data(), host.data(), static_cast<std::size_t>(host.numel()) * sizeof(T),
                              cudaMemcpyHostToDevice));
}

template <class H, class D>
void upload_state(H& host, D& device) {
  for (auto [h, d] : paired(parameters_of(host), parameters_of(device))) {
    upload(h->value, d->value);
    upload(h->grad, d->grad);
  }
  for (auto [h, d] : paired(buffers_of(host), buffers_of(device))) upload(*h, *d);
}

template <class H, class D>
void require_same_parameters(const std::string& what, H& host, D& device, double tolerance) {
  const auto h = parameters_of(host);
  const auto d = parameters_of(device);
  REQUIRE(h.size() == d.size());
  for (std::size_t i = 0; i < h.size(); ++i) require_parity(what + " " + h[i].first, h[i].second->value, d[i].second->value, tolerance);
}

template <class H, class D>
void require_same_gradients(const std::string& what, H& host, D& device, double tolerance) {
  const auto h = parameters_of(host);
  const auto d = parameters_of(device);
  REQUIRE(h.size() == d.size());
  for (std::size_t i = 0; i < h.size(); ++i)
    require_parity(what + " d/d" + h[i].first, h[i].second->grad, d[i].second->grad, tolerance);
}

template <class H, class D>
void require_same_buffers(const std::string& what, H& host, D& device, double tolerance) {
  const auto h = buffers_of(host);
  const auto d = buffers_of(device);
  REQUIRE(h.size() == d.size());
  for (std::size_t i = 0; i < h.size(); ++i) require_parity(what + " buffer " + h[i].first, *h[i].second, *d[i].second, tolerance);
}

// Construction from one seed gives the same weights and buffers on both backends
// (uniform draws exactly, normal draws and normalisations to rounding); then the
// device module takes the host module's exact state.
template <class H, class D>
void require_same_construction(const std::string& what, H& host, D& device) {
  require_same_parameters(what + " after construction:", host, device, sbgan::tolerance::cuda_reduction);
  require_same_buffers(what + " after construction:", host, device, sbgan::tolerance::cuda_reduction);
  upload_state(host, device);
}

// The same random parameter gradients on both, so a backward pass must add into them.
template <class H, class D>
void randomize_gradients(H& host, D& device, sbgan::Generator& gen) {
  for (auto [h, d] : paired(parameters_of(host), parameters_of(device))) {
    gen.normal(h->grad);
    upload(h->grad, d->grad);
  }
}

// A random host tensor and its device copy.
template <class T>
struct Twin {
  sbgan::Tensor<T, sbgan::cpu> host;
  sbgan::Tensor<T, sbgan::cuda> device;
};
template <class T>
Twin<T> twin(const sbgan::Tensor<T, sbgan::cpu>& host) {
  return {sbgan::clone(host), sbgan::to_device(host)};
}
template <class T>
Twin<T> normal_twin(sbgan::Generator& gen, const sbgan::Shape& shape) {
  return twin(gen.normal<T>(shape));
}

// The same random cotangent on both backends for every tensor of `like`.
template <class T>
using TwinList = std::pair<std::vector<sbgan::Tensor<T>>, std::vector<sbgan::Tensor<T, sbgan::cuda>>>;
template <class T>
TwinList<T> cotangents(sbgan::Generator& gen, const std::vector<sbgan::Tensor<T>>& like) {
  TwinList<T> out;
  for (const auto& t : like) {
    const auto c = normal_twin<T>(gen, t.shape());
    out.first.push_back(c.host);
    out.second.push_back(c.device);
  }
  return out;
}

template <sbgan::Layer H, sbgan::Layer D>
void require_layer_parity(const std::string& what, H& host, D& device,
                          const sbgan::Tensor<typename H::value_type, sbgan::cpu>& x_host, double tolerance,
                          std::uint64_t seed = 1) {
  using T = typename H::value_type;
  using sbgan::ParamGrads;
  require_same_construction(what, host, device);
  sbgan::Generator gen(seed, 0x7061726974ULL);
  const auto x = twin(x_host);

  auto h_ctx = host.forward(x.host);
  auto d_ctx = device.forward(x.device);
  require_parity(what + " forward", h_ctx.output, d_ctx.output, tolerance);
  require_same_buffers(what + " after forward:", host, device, tolerance);

  const auto dy = normal_twin<T>(gen, h_ctx.output.shape());
  auto dx = normal_twin<T>(gen, x_host.shape());
  randomize_gradients(host, device, gen);
  host.backward(h_ctx, dy.host, dx.host, ParamGrads::accumulate);
  device.backward(d_ctx, dy.device, dx.device, ParamGrads::accumulate);
  require_parity(what + " backward d/dx", dx.host, dx.device, tolerance);
  require_same_gradients(what + " backward", host, device, tolerance);

  if constexpr (sbgan::SecondOrderLayer<H>) {
    const auto gy = normal_twin<T>(gen, h_ctx.output.shape());
    const auto w = normal_twin<T>(gen, x_host.shape());
    auto sdx = normal_twin<T>(gen, x_host.shape());
    auto sdgy = normal_twin<T>(gen, h_ctx.output.shape());
    randomize_gradients(host, device, gen);
    host.backward_second(h_ctx, gy.host, w.host, sdx.host, sdgy.host, ParamGrads::accumulate);
    device.backward_second(d_ctx, gy.device, w.device, sdx.device, sdgy.device, ParamGrads::accumulate);
    require_parity(what + " second order d/dx", sdx.host, sdx.device, tolerance);
    require_parity(what + " second order d/dgy", sdgy.host, sdgy.device, tolerance);
    require_same_gradients(what + " second order", host, device, tolerance);
  }
}

}  // namespace test_support
