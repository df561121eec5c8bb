#pragma once
// SPADE's learning-rate schedule (Pix2PixTrainer.update_learning_rate, copied into
// SB-GAN's end-to-end trainer): constant for `niter` epochs, then a linear decay
// toward 0 over `niter_decay` epochs, with the TTUR split G = base/2, D = base·2.
//
// Exactly what the reference does, called at the end of every epoch:
//   if epoch > niter:  new = old − lr/niter_decay   (subtracted again each epoch,
//                                                    in double, so the rounding is
//                                                    the reference's too)
//   if new != old:     G lr = new/2, D lr = new·2   (no_TTUR: both = new)
// The optimizers start at G = lr/2, D = lr·2 (create_optimizers), which is what
// generator_lr() and discriminator_lr() give before any decay.
//
// The epoch numbers are the caller's, as the reference passes them: SPADE's
// train.py counts from 1 (the last decay, at epoch niter + niter_decay, brings the
// base to 0 up to rounding); SB-GAN's end-to-end trainer counts from 0 (its last
// decay, at epoch niter + niter_decay − 1, leaves lr/niter_decay).
//
// Reference quirk kept for callers to reproduce: the end-to-end trainer's D2
// optimizer starts at lr (not lr·2) and receives the D rate only from the first
// decay on; apply() returns whether the rate changed so the caller can do that.
#include <string>

#include "sbgan/core/error.hpp"
#include "sbgan/optim/adam.hpp"

namespace sbgan {

struct LinearDecayOptions {
  double lr = 2e-4;     // the base rate (SPADE's --lr)
  int niter = 0;        // epochs at the constant rate
  int niter_decay = 0;  // epochs of linear decay
  bool ttur = true;     // G = base/2, D = base·2 (SPADE's default, no_TTUR off)
};

class LinearDecaySchedule {
 public:
  explicit LinearDecaySchedule(const LinearDecayOptions& options) : options_(options), base_(options.lr) {
    if (!(options.lr >= 0)) throw error("LinearDecaySchedule: the learning rate must be non-negative");
    if (options.niter < 0 || options.niter_decay < 0)
      throw error("LinearDecaySchedule: niter and niter_decay must be non-negative");
  }

  [[nodiscard]] const LinearDecayOptions& options() const { return options_; }
  // The reference's old_lr.
  [[nodiscard]] double base_lr() const { return base_; }
  [[nodiscard]] double generator_lr() const { return options_.ttur ? base_ / 2 : base_; }
  [[nodiscard]] double discriminator_lr() const { return options_.ttur ? base_ * 2 : base_; }

  // The reference's update_learning_rate(epoch), at the end of epoch `epoch`.
  // Returns true when the rate changed.
  bool end_epoch(int epoch) {
    if (epoch > options_.niter + options_.niter_decay)
      throw error("LinearDecaySchedule: epoch " + std::to_string(epoch) + " is past the schedule's " +
                  std::to_string(options_.niter + options_.niter_decay) + " epochs");
    const double next = epoch > options_.niter ? base_ - options_.lr / options_.niter_decay : base_;
    if (next == base_) return false;
    base_ = next;
    return true;
  }

  // end_epoch, then on a change the new rates into every group of G's and D's
  // optimizers, as the reference sets its param_groups.
  template <class T, class B>
  bool apply(int epoch, Adam<T, B>& generator, Adam<T, B>& discriminator) {
    if (!end_epoch(epoch)) return false;
    generator.set_lr(generator_lr());
    discriminator.set_lr(discriminator_lr());
    return true;
  }

  // The schedule's position, for checkpoints: the base rate is all its state.
  void set_base_lr(double lr) { base_ = lr; }

 private:
  LinearDecayOptions options_;
  double base_;
};

}  // namespace sbgan
