// Uses the installed headers: one Conv2d forward pass on a [2, 3, 4, 4] input.
#include <iostream>

#include <sbgan/sbgan.hpp>

int main() {
  sbgan::Generator gen(42);
  sbgan::Tensor<float> x = gen.normal<float>(sbgan::Shape{2, 3, 4, 4});
  if (x.numel() != 96) {
    std::cerr << "consumer: input has " << x.numel() << " elements, expected 96\n";
    return 1;
  }

  sbgan::Conv2d<float> conv(sbgan::Conv2dOptions{.in_channels = 3, .out_channels = 5, .kernel = 3, .stride = 1,
                                                 .padding = 1},
                            gen);
  const auto ctx = conv.forward(x);
  const sbgan::Shape expected{2, 5, 4, 4};
  std::cout << "consumer: " << conv.describe() << " maps " << x.shape() << " to " << ctx.output.shape() << '\n';
  if (!(ctx.output.shape() == expected)) {
    std::cerr << "consumer: expected output shape " << expected << '\n';
    return 1;
  }
  return 0;
}
