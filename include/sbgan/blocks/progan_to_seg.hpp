#pragma once
// ProGanToSeg: the layout generator's per-resolution output head ("to_mask" in the
// reference): a 1x1 equalized convolution from the block's features to K class
// logits (gain 1, with bias), then a softmax over the channels, so the generator
// emits a per-pixel class distribution. Parameters "weight" and "bias" (the
// generator block names the head "to_mask").
#include <string>

#include "sbgan/core/factories.hpp"
#include "sbgan/layers/channel_softmax.hpp"
#include "sbgan/layers/concept.hpp"
#include "sbgan/layers/equalized_conv2d.hpp"
#include "sbgan/layers/sequential.hpp"

namespace sbgan {

template <class T, class B = cpu>
class ProGanToSeg : public layer_types<T, B> {
  using body_type = Sequential<EqualizedConv2d<T, B>, ChannelSoftmax<T, B>>;

 public:
  using tensor = Tensor<T, B>;
  using context = typename body_type::context;

  ProGanToSeg(index_t channels, index_t classes, Generator& init)
      : channels_(channels),
        classes_(classes),
        body_(EqualizedConv2d<T, B>({channels, classes, Window2d{}, 1.0}, init), ChannelSoftmax<T, B>()) {}

  EqualizedConv2d<T, B>& conv() { return body_.template get<0>(); }

  context forward(const tensor& x) {
    if (x.shape().rank() != 4 || x.shape().c() != channels_)
      throw shape_error(describe(), "input", "[N, " + std::to_string(channels_) + ", H, W]", x.shape());
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
    return "ProGanToSeg(" + std::to_string(channels_) + "->" + std::to_string(classes_) + " classes)";
  }

 private:
  index_t channels_, classes_;
  body_type body_;
};

}  // namespace sbgan
