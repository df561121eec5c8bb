#pragma once
// Optimizers and learning-rate schedules.
#include "sbgan/optim/adam.hpp"
#include "sbgan/optim/schedule.hpp"
