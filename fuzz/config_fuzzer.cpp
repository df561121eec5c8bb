// Fuzz target: the JSON config reader (models/config.hpp, config_from_json_text).
//
// The input is the text of a --config file. It must either be refused with
// sbgan::error (config_error) or give a config that validates, survives a
// to_json / config_from_json round trip unchanged, and whose derived quantities
// (the layout schedule, channels, steps per phase, iterations per epoch, scaling,
// the SPADE generator and patch discriminator options) can be computed; under
// UBSan, without an overflow.
#include <cstddef>
#include <cstdint>
#include <string>

#include <sbgan/models/config.hpp>

#include "fuzz_support.hpp"

using namespace sbgan;
using fuzz_support::broken;
using fuzz_support::expect_message;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  SBGanConfig c;
  try {
    c = config_from_json_text(text, "fuzz");
  } catch (const error& e) {
    expect_message(e);
    return 0;
  }
  try {
    c.validate();
    const nlohmann::json j = to_json(c);
    if (to_json(config_from_json(j)) != j) broken("an accepted config changed in a JSON round trip");
    for (index_t r : c.layout_gan.resolutions()) (void)c.steps_per_phase(r);
    (void)c.layout_gan.channels();
    (void)c.aspect();
    (void)c.end2end_iterations_per_epoch();
    (void)c.end2end_scaling();
    (void)c.spade_generator_options();
    (void)c.patch_options(c.classes);
  } catch (const error& e) {
    broken(std::string("an accepted config fails later: ") + e.what());
  }
  return 0;
}
