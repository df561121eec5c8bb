#pragma once
// Errors are exceptions. A shape error names the layer, what it expected and what
// it got, so a user can find the mistake without a debugger.
#include <stdexcept>
#include <string>

#include "sbgan/core/shape.hpp"

namespace sbgan {

struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct shape_error : error {
  shape_error(const std::string& layer, const std::string& what, const std::string& expected,
              const Shape& actual)
      : error(layer + ": " + what + " must have shape " + expected + ", got " + actual.str()) {}
  explicit shape_error(const std::string& message) : error(message) {}
};

struct backend_error : error {
  using error::error;
};

// Throws shape_error unless `actual` equals `expected`.
inline void expect_shape(const std::string& layer, const std::string& what, const Shape& expected,
                         const Shape& actual) {
  if (!(expected == actual)) throw shape_error(layer, what, expected.str(), actual);
}

}  // namespace sbgan
