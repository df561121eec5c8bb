#pragma once
// The whole library: #include <sbgan/sbgan.hpp>.
#include "sbgan/core/backend.hpp"
#include "sbgan/core/error.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/core/generator.hpp"
#include "sbgan/core/parameter.hpp"
#include "sbgan/core/poison.hpp"
#include "sbgan/core/shape.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"
#include "sbgan/blocks.hpp"
#include "sbgan/layers.hpp"
