#pragma once
// W9 of BENCHMARKS.md, shared by the CPU (bench_sbgan.cpp) and GPU (bench_cuda.cu)
// benchmarks: the config and the nominal FLOP model of one end-to-end iteration.
//
// The config is the Cityscapes reference scaled to 128×256 images: G_SB and D_SB
// grow to 128×256 layouts (6 levels, channels 512…128), the stage runs them at that
// resolution, so scaling = 1; SPADE 'more' (6 upsamplings, starting at 2×4), batch-
// norm SPADE, nf 64; D_SPADE and D2 the official 3-layer patch discriminators, 2
// scales, ndf 64; no VGG term.
#include "bench_common.hpp"

#include <sbgan/models/config.hpp>

namespace sbgan_bench {

using sbgan::SBGanConfig;

inline SBGanConfig w9_config() {
  SBGanConfig c = SBGanConfig::cityscapes();
  c.name = "bench_w9";
  c.height = 128;
  c.width = 256;
  c.layout_gan.max_resolution = 128;
  c.layout_gan.batch = {16, 16, 16, 16, 16, 4};  // one per resolution 4 … 128
  c.end2end.layout_resolution = 128;              // scaling 1
  c.end2end.batch = 1;
  c.validate();
  return c;
}

// Nominal FLOPs of one iteration (see bench_common.hpp), F_x a forward of network x:
//   G step: G_SB 3F, D_SB 2F (forward + input gradient), SPADE-G 6F (two forwards and
//           two backwards), D2 and D_SPADE 2F each (on the concatenated 2N batch)
//   D step: G_SB 1F, D_SB 12F (real and fake 3F each, the penalty 6F), SPADE-G 2F,
//           D_SPADE and D2 3F each
inline double w9_flops(const SBGanConfig& c) {
  const index_t k = c.classes, h = c.height, w = c.width;
  const auto channels = c.layout_gan.channels();
  const double g_sb = progan_generator_flops(1, c.layout_gan.latent, channels, k, 4, c.aspect());
  const double d_sb = progan_critic_flops(1, k, channels, 4, c.aspect(), c.layout_gan.minibatch_stddev_group > 0);
  const double spade = spade_generator_flops(1, k, c.spade.nf, c.spade.hidden, h, w,
                                             sbgan::spade_upsampling_count(c.spade.upsampling));
  const auto p = c.patch_options(k + 3);
  const double d_spade = multiscale_discriminator_flops(2, k + 3, p.ndf, p.layers, p.last_inner_stride_one,
                                                        c.spade.discriminator_scales, h, w);
  const double d2 = multiscale_discriminator_flops(2, 3, p.ndf, p.layers, p.last_inner_stride_one,
                                                   c.spade.discriminator_scales, h, w);
  return 4 * g_sb + 14 * d_sb + 8 * spade + 5 * d_spade + 5 * d2;
}

}  // namespace sbgan_bench
