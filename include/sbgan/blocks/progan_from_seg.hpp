#pragma once
// ProGanFromSeg: the critic's per-resolution input head ("from_mask" in the
// reference): a 1x1 equalized convolution from the K-channel layout to the block's
// features (gain 1, with bias), then leaky ReLU(0.2). Parameters "weight" and
// "bias" (the critic block names the head "from_mask"). Second-order, as every
// part of a critic.
#include <string>

#include "sbgan/core/factories.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/equalized_conv2d.hpp"
#include "sbgan/layers/leaky_relu.hpp"
#include "sbgan/layers/sequential.hpp"

namespace sbgan {

template <class T, class B = cpu>
class ProGanFromSeg : public layer_types<T, B> {
  using body_type = Sequential<EqualizedConv2d<T, B>, LeakyReLU<T, B>>;

 public:
  using tensor = Tensor<T, B>;
  using context = typename body_type::context;

  ProGanFromSeg(index_t classes, index_t channels, Generator& init)
      : classes_(classes),
        channels_(channels),
        body_(EqualizedConv2d<T, B>({classes, channels, Window2d{}, 1.0}, init), LeakyReLU<T, B>(T(0.2))) {}

  EqualizedConv2d<T, B>& conv() { return body_.template get<0>(); }

  context forward(const tensor& x) {
    if (x.shape().rank() != 4 || x.shape().c() != classes_)
      throw shape_error(describe(), "input", "[N, " + std::to_string(classes_) + ", H, W]", x.shape());
    return body_.forward(x);
  }
  void backward(const context& ctx, const tensor& dy, tensor& dx, ParamGrads grads) {
    body_.backward(ctx, dy, dx, grads);
  }
  void backward_second(const context& ctx, const tensor& gy, const tensor& w, tensor& dx, tensor& dgy,
                       ParamGrads grads) {
    body_.backward_second(ctx, gy, w, dx, dgy, grads);
  }

  template <class F>
  void visit_parameters(F&& f) {
    conv().visit_parameters(f);
  }

  [[nodiscard]] std::string describe() const {
    return "ProGanFromSeg(" + std::to_string(classes_) + " classes->" + std::to_string(channels_) + ")";
  }

 private:
  index_t classes_, channels_;
  body_type body_;
};

}  // namespace sbgan
