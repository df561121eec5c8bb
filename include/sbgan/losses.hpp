#pragma once
// Every loss of the library.
#include "sbgan/losses/approx_gradient_penalty.hpp"
#include "sbgan/losses/feature_matching.hpp"
#include "sbgan/losses/gradient_penalty.hpp"
#include "sbgan/losses/hinge.hpp"
#include "sbgan/losses/improved_wgan.hpp"
#include "sbgan/losses/r1.hpp"
#include "sbgan/losses/vgg_perceptual.hpp"
#include "sbgan/losses/wgan.hpp"
