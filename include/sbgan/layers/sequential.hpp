#pragma once
// Sequential<L0, L1, ...>: layers applied in order, as one layer. A flat variadic
// pack, not nested types, so error messages and compile times stay short.
// Parameters are named by position, as torch.nn.Sequential does ("0.weight").
//
// backward_second (present when every element is a SecondOrderLayer) chains the
// per-layer passes: it recomputes each element's input gradient under gy, pushes
// the cotangent w forward through the elements (each maps the cotangent of its
// input gradient to that of its output gradient), and back-propagates the direct
// x terms ∂Q/∂xᵢ through the earlier elements with an ordinary backward pass.
#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "sbgan/backend/kernels.hpp"
#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"

namespace sbgan {

template <Layer... Ls>
class Sequential : public layer_types<typename std::tuple_element_t<0, std::tuple<Ls...>>::value_type,
                                      typename std::tuple_element_t<0, std::tuple<Ls...>>::backend> {
  static_assert(sizeof...(Ls) > 0, "Sequential needs at least one layer");
  using first = std::tuple_element_t<0, std::tuple<Ls...>>;
  using last = std::tuple_element_t<sizeof...(Ls) - 1, std::tuple<Ls...>>;
  static_assert((std::is_same_v<typename Ls::value_type, typename first::value_type> && ...),
                "Sequential: every layer must use the same scalar type");
  static_assert((std::is_same_v<typename Ls::backend, typename first::backend> && ...),
                "Sequential: every layer must use the same backend");
  static constexpr std::size_t count = sizeof...(Ls);

 public:
  using value_type = typename first::value_type;
  using backend = typename first::backend;
  using tensor = Tensor<value_type, backend>;
  struct context {
    Shape input_shape;
    std::tuple<typename Ls::context...> parts;
    tensor output;
  };

  // Its output is its last element's.
  static constexpr bool backward_reads_output = sbgan::backward_reads_output<last>();

  explicit Sequential(Ls... layers) : layers_(std::move(layers)...) {}

  template <std::size_t I>
  auto& get() {
    return std::get<I>(layers_);
  }
  static constexpr std::size_t size() { return count; }

  context forward(const tensor& x) {
    context ctx;
    ctx.input_shape = x.shape();
    each_forward([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      const tensor& in = I == 0 ? x : output_of<I == 0 ? 0 : I - 1>(ctx);
      try {
        std::get<I>(ctx.parts) = std::get<I>(layers_).forward(in);
      } catch (const shape_error& e) {
        throw shape_error("Sequential element " + std::to_string(I) + ": " + e.what());
      }
      // An output its own layer never reads stays alive only where the next layer
      // kept it (a conv's input, say), not for the shape checks of backward.
      if constexpr (I > 0) {
        using previous = std::tuple_element_t<I - 1, std::tuple<Ls...>>;
        if constexpr (!sbgan::backward_reads_output<previous>()) std::get<I - 1>(ctx.parts).output.release_storage();
      }
    });
    ctx.output = output_of<count - 1>(ctx);
    return ctx;
  }

  // Each element's output is dropped as soon as the next element has read it.
  tensor infer(const tensor& x) {
    tensor current = x;
    each_forward([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      try {
        current = sbgan::infer(std::get<I>(layers_), current);
      } catch (const shape_error& e) {
        throw shape_error("Sequential element " + std::to_string(I) + ": " + e.what());
      }
    });
    return current;
  }

  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    std::array<tensor, count + 1> g = input_gradients(ctx, dy, dx, grads);
    (void)g;
  }

  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy,
                       ParamGrads grads)
    requires(SecondOrderLayer<Ls> && ...)
  {
    // 1. The input gradient of every element under gy, without parameter terms.
    tensor scratch = zeros<value_type, backend>(ctx.input_shape);
    const std::array<tensor, count + 1> g = input_gradients(ctx, gy, scratch, ParamGrads::skip);
    // 2. Forward sweep: element I turns the cotangent of its input gradient into
    //    that of its output gradient, adding its direct terms ∂Q/∂x_I into a[I]
    //    (a[0] is dx itself) and ∂Q/∂θ_I into the parameters.
    std::array<tensor, count> a;
    a[0] = dx;
    tensor cotangent = w;
    each_forward([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      if constexpr (I > 0) a[I] = zeros<value_type, backend>(input_shape_of<I>(ctx));
      tensor next = zeros<value_type, backend>(std::get<I>(ctx.parts).output.shape());
      std::get<I>(layers_).backward_second(std::get<I>(ctx.parts), g[I + 1], cotangent, a[I], next, grads);
      cotangent = next;
    });
    kernels::axpy(value_type(1), cotangent, dgy);
    // 3. Reverse sweep: the direct terms of later elements reach earlier inputs
    //    (and parameters) through ordinary backward passes.
    each_reverse([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      if constexpr (I > 0) std::get<I - 1>(layers_).backward(std::get<I - 1>(ctx.parts), a[I], a[I - 1], grads);
    });
  }

  template <class F>
  void visit_parameters(F&& f) {
    each_forward([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      const std::string prefix = std::to_string(I) + ".";
      std::get<I>(layers_).visit_parameters(
          [&](std::string_view name, auto& p) { f(prefix + std::string(name), p); });
    });
  }

  template <class F>
  void visit_buffers(F&& f) {
    each_forward([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      const std::string prefix = std::to_string(I) + ".";
      sbgan::visit_buffers(std::get<I>(layers_), [&](std::string_view name, auto& t) { f(prefix + std::string(name), t); });
    });
  }

  void set_training(bool training) {
    each_forward([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      sbgan::set_training(std::get<I>(layers_), training);
    });
  }

  [[nodiscard]] std::string describe() const { return "Sequential(" + std::to_string(count) + " layers)"; }

 private:
  template <class F>
  static void each_forward(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::integral_constant<std::size_t, I>{}), ...);
    }(std::make_index_sequence<count>{});
  }
  template <class F>
  static void each_reverse(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::integral_constant<std::size_t, count - 1 - I>{}), ...);
    }(std::make_index_sequence<count>{});
  }

  template <std::size_t I>
  static const tensor& output_of(const context& ctx) {
    return std::get<I>(ctx.parts).output;
  }
  template <std::size_t I>
  static Shape input_shape_of(const context& ctx) {
    if constexpr (I == 0)
      return ctx.input_shape;
    else
      return output_of<I - 1>(ctx).shape();
  }

  // Back-propagates dy through every element; g[I] is element I's input gradient
  // (g[0] is dx, which receives the sum), g[count] is dy.
  std::array<tensor, count + 1> input_gradients(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    expect_shape(describe(), "output gradient", ctx.output.shape(), dy.shape());
    expect_shape(describe(), "input gradient", ctx.input_shape, dx.shape());
    std::array<tensor, count + 1> g;
    g[count] = dy;
    g[0] = dx;
    each_reverse([&]<std::size_t I>(std::integral_constant<std::size_t, I>) {
      if constexpr (I > 0) g[I] = zeros<value_type, backend>(input_shape_of<I>(ctx));
      std::get<I>(layers_).backward(std::get<I>(ctx.parts), g[I + 1], g[I], grads);
    });
    return g;
  }

  std::tuple<Ls...> layers_;
};

}  // namespace sbgan
