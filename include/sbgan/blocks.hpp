#pragma once
// Every block of the library: layers composed into SB-GAN's building blocks.
#include "sbgan/blocks/multiscale_discriminator.hpp"
#include "sbgan/blocks/patch_discriminator.hpp"
#include "sbgan/blocks/progan_critic.hpp"
#include "sbgan/blocks/progan_generator.hpp"
#include "sbgan/blocks/spade_norm.hpp"
#include "sbgan/blocks/spade_resblock.hpp"
