// W9 of BENCHMARKS.md: one full SB-GAN end-to-end training iteration
// (EndToEndStage::step: the G step and the D step) at N=1, 128×256, K = 35.
//
// The config is the Cityscapes reference scaled to 128×256 images: G_SB and D_SB
// grow to 128×256 layouts (6 levels, channels 512…128), the stage runs them at that
// resolution, so scaling = 1; SPADE 'more' (6 upsamplings, starting at 2×4), batch-
// norm SPADE, nf 64; D_SPADE and D2 the official 3-layer patch discriminators, 2
// scales, ndf 64; no VGG term (hinge + feature matching ×10 + λ_pgan = 10 layout
// term, λ_D2 = 0.1); five Adam optimizers as the reference's.
#include "bench_w9.hpp"

#include <sbgan/models/config.hpp>
#include <sbgan/models/sbgan.hpp>
#include <sbgan/train/end_to_end_stage.hpp>

namespace {

using namespace sbgan;
using namespace sbgan_bench;

using Model = SBGAN<SBGanTraits<float, cpu, PixelNormForm::official, SpadeNormKind::batch>>;
using Stage = EndToEndStage<Model::layout_generator_type, Model::layout_critic_type, Model::image_generator_type,
                            Model::discriminator_type>;

void W9_iteration(benchmark::State& state) {
  const SBGanConfig c = w9_config();
  Generator init(9);
  Model model(c, init);
  EndToEndOptions<float> o;
  o.lr_pgan = c.end2end.lr_pgan;
  o.lr_spade_g = c.end2end.spade_generator_lr;
  o.lr_spade_d = c.end2end.spade_discriminator_lr;
  o.lr_d2 = c.end2end.d2_lr;
  o.lambda_pgan = c.end2end.lambda_pgan;
  o.lambda_gp = c.layout_gan.gp_lambda;
  o.lambda_d2 = c.end2end.lambda_d2;
  o.lambda_feat = c.spade.lambda_feat;
  o.lambda_vgg = c.spade.lambda_vgg;
  o.scaling = c.end2end_scaling();
  o.vgg = nullptr;
  model.set_layout_resolution(c.end2end.layout_resolution);
  Generator rng(9, 1);
  Stage stage(model.g_sb(), model.d_sb(), model.g_spade(), model.d_spade(), model.d2(), rng, o);
  const auto layouts = random_one_hot(init, 1, c.classes, c.height, c.width);
  const auto real = init.uniform<float>(Shape{1, 3, c.height, c.width}, -1.f, 1.f);
  benchmark::DoNotOptimize(stage.step(layouts, real).generator_loss());  // warm-up
  for (auto _ : state) {
    const auto stats = stage.step(layouts, real);
    benchmark::DoNotOptimize(stats.generator_loss());
  }
  set_gflops(state, w9_flops(c));
}

}  // namespace

BENCHMARK(W9_iteration)->Name("W9_sbgan_iteration")->Unit(benchmark::kMillisecond)->UseRealTime();
