#pragma once
// Training: checkpoints and the training stages.
#include "sbgan/train/checkpoint.hpp"
#include "sbgan/train/checkpoint_files.hpp"
#include "sbgan/train/end_to_end_stage.hpp"
#include "sbgan/train/layout_gan_stage.hpp"
#include "sbgan/train/model_checkpoint.hpp"
#include "sbgan/train/progress.hpp"
#include "sbgan/train/sbgan_trainer.hpp"
#include "sbgan/train/spade_stage.hpp"
