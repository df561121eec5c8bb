#pragma once
// The reference's weight initialisation (reference §3.1, §6.1), applied by
// parameter name to any network with visit_parameters.
//
// SPADE networks (generator, conditional D, D2): BaseNetwork.init_weights('xavier',
// gain 0.02) sets every Conv/Linear `weight` to xavier_normal_(gain) and every bias to
// 0. What it did to spectral-norm convolutions depends on a detail of
// torch.nn.utils.spectral_norm: the wrapper moves the parameter to `weight_orig` and
// leaves `weight` as a plain attribute holding weight.data, which shares storage with
// weight_orig only until the module is converted. SPADE's create_network calls
// net.cuda() (Module._apply replaces weight_orig.data with a new tensor and leaves
// the attribute behind) before init_weights whenever it trains on GPUs, as every
// reference run did. So the xavier draw lands in a stale copy that the next forward
// overwrites from weight_orig, and weight_orig keeps PyTorch's default
// initialisation, uniform in ±1/√fan_in — what our Conv2d draws. Checked with
// PyTorch 1.13: without a conversion xavier reaches weight_orig, after one (.double()
// takes the same _apply path as .cuda()) it does not. Biases are real parameters and
// are zeroed either way. SpadeInit::spectral chooses between this (the default) and
// the CPU-only reading, xavier on weight_orig too.
//
// ProGAN networks (G_SB, D_SB): stored weights N(0, 1), biases 0; the equalized
// layers draw exactly that when built, so init_progan_reference is only needed to
// re-initialise.
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"

namespace sbgan {

// torch.nn.init.xavier_normal_: N(0, gain·√(2 / (fan_in + fan_out))), with
// fan_in = shape[1]·receptive field and fan_out = shape[0]·receptive field.
template <class T, class B>
void xavier_normal(Tensor<T, B>& w, double gain, Generator& init) {
  const Shape& s = w.shape();
  if (s.rank() < 2) throw error("xavier_normal: the weight needs at least 2 dimensions, got " + s.str());
  const index_t receptive = w.numel() / (s[0] * s[1]);
  const double fan_in = static_cast<double>(s[1] * receptive), fan_out = static_cast<double>(s[0] * receptive);
  init.normal(w, T(0), static_cast<T>(gain * std::sqrt(2.0 / (fan_in + fan_out))));
}

enum class SpectralWeightInit {
  pytorch_default,  // what the reference's GPU runs did: weight_orig keeps its default draw
  xavier            // xavier on weight_orig as well (a CPU-only run of the reference)
};

struct SpadeInit {
  double gain = 0.02;  // init_variance
  SpectralWeightInit spectral = SpectralWeightInit::pytorch_default;
};

namespace init_detail {
inline std::string_view last_component(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}
}  // namespace init_detail

// BaseNetwork.init_weights('xavier', gain) as the reference ran it. A rank-1 "weight"
// is an affine normalization's scale, which SPADE draws N(1, gain).
template <class Net>
void init_spade_reference(Net& net, Generator& init, const SpadeInit& options = {}) {
  if (!(options.gain > 0)) throw error("init_spade_reference: gain must be positive, got " + std::to_string(options.gain));
  net.visit_parameters([&](std::string_view name, auto& p) {
    using T = typename std::decay_t<decltype(p.value)>::value_type;
    const std::string_view leaf = init_detail::last_component(name);
    if (leaf == "bias") {
      kernels::fill(p.value, T(0));
    } else if (leaf == "weight") {
      if (p.value.shape().rank() >= 2)
        xavier_normal(p.value, options.gain, init);
      else
        init.normal(p.value, T(1), static_cast<T>(options.gain));
    } else if (leaf == "weight_orig" && options.spectral == SpectralWeightInit::xavier) {
      xavier_normal(p.value, options.gain, init);
    }
  });
}

// ProGAN's: stored weights N(0, 1) (the equalized layers scale them at run time),
// biases 0.
template <class Net>
void init_progan_reference(Net& net, Generator& init) {
  net.visit_parameters([&](std::string_view name, auto& p) {
    using T = typename std::decay_t<decltype(p.value)>::value_type;
    const std::string_view leaf = init_detail::last_component(name);
    if (leaf == "bias")
      kernels::fill(p.value, T(0));
    else if (leaf == "weight")
      init.normal(p.value, T(0), T(1));
  });
}

}  // namespace sbgan
