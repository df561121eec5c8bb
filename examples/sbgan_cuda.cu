// The sbgan program's model commands on the CUDA backend: the templates of
// sbgan_commands.hpp instantiated with B = cuda, behind the one entry point that
// sbgan_device.hpp declares. Compiled by nvcc, and only when SBGAN_WITH_CUDA (see
// examples/CMakeLists.txt); no Eigen and no command-line parsing here.
#include "sbgan/backend/cuda/device.hpp"
#include "sbgan_commands.hpp"
#include "sbgan_device.hpp"

namespace sbgan_cli {

void run_on_cuda(const ModelCommand& command) {
  // Refuse before anything is read or written: "... no CUDA GPU is present ...".
  sbgan::require_cuda();
  run_model_command<sbgan::cuda>(command);
}

}  // namespace sbgan_cli
