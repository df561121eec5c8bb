#pragma once
// Every layer of the library.
#include "sbgan/layers/avg_pool2d.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/conv2d.hpp"
#include "sbgan/layers/flatten.hpp"
#include "sbgan/layers/gumbel_softmax.hpp"
#include "sbgan/layers/leaky_relu.hpp"
#include "sbgan/layers/linear.hpp"
#include "sbgan/layers/nearest_upsample.hpp"
#include "sbgan/layers/passes.hpp"
#include "sbgan/layers/relu.hpp"
#include "sbgan/layers/sequential.hpp"
#include "sbgan/layers/tanh.hpp"
