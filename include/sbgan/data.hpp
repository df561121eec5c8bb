#pragma once
// Data: scenes, data sets in the reference's layouts, the procedural scene data
// set, preprocessing and the background batch loader.
#include "sbgan/data/batch_loader.hpp"
#include "sbgan/data/cityscapes.hpp"
#include "sbgan/data/folder_pairs.hpp"
#include "sbgan/data/label_remap.hpp"
#include "sbgan/data/list_pairs.hpp"
#include "sbgan/data/load_scene.hpp"
#include "sbgan/data/open_dataset.hpp"
#include "sbgan/data/preprocess.hpp"
#include "sbgan/data/procedural_scenes.hpp"
#include "sbgan/data/remapped_scenes.hpp"
#include "sbgan/data/scene.hpp"
