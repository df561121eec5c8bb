#pragma once
// A built-in street-scene data set, generated instead of downloaded: scene i of a
// seed is always the same picture, at any resolution, so the demo and the tests
// have real structure to learn without Cityscapes.
//
// Layouts use Cityscapes label ids (K = 35, so cityscapes_35() colours them) and
// are laid out in resolution-free coordinates u = (x + ½)/W, v = (y + ½)/H:
// - a horizon; sky above it, a skyline of buildings (11) with tree gaps (21) standing
//   on it;
// - below it a road (7) narrowing to a vanishing point, sidewalks (8) along both
//   edges, terrain (22) or a hedge (21) beyond each sidewalk;
// - cars (26) standing on the road, drawn far to near so near ones occlude;
// - poles (17) standing on the sidewalks and rising above the horizon, with a
//   traffic sign (20) or traffic light (19) on top of most; optionally people (24)
//   on the sidewalks.
// Each class has its own colour family and texture, varied per scene and object:
// a sky gradient with soft clouds, window grids on buildings, lane marks on the
// road, paving joints on sidewalks, noisy foliage and grass, darker car windows and
// wheels. Colours are far apart between classes and the texture mild, so a small
// SPADE learns the mapping at 32x64 to 64x128.
//
// Randomness: per-scene choices come from Philox blocks keyed by the seed with the
// scene index as the stream; pixel texture from a counter hash of (seed, index,
// grid cell). Nothing depends on threads or on other scenes.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sbgan/core/error.hpp"
#include "sbgan/core/philox.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/data/scene.hpp"

namespace sbgan::data {

namespace cityscapes_id {
inline constexpr std::int32_t road = 7, sidewalk = 8, building = 11, pole = 17, traffic_light = 19, traffic_sign = 20,
                              vegetation = 21, terrain = 22, sky = 23, person = 24, car = 26;
}

struct ProceduralOptions {
  std::uint64_t seed = 0;
  index_t size = 10000;  // number of scenes the data set reports
  index_t height = 64;
  index_t width = 128;
  bool people = true;  // pedestrians on the sidewalks
};

namespace procedural_detail {

// Per-scene random choices: one Philox block per draw.
struct SceneRandom {
  std::uint64_t key, stream, counter = 0;
  double uniform(double lo = 0.0, double hi = 1.0) {
    const philox::block b = philox::generate(counter++, stream, key);
    const std::uint64_t bits = (static_cast<std::uint64_t>(b.v[0]) << 21) ^ (b.v[1] >> 11);
    return lo + (hi - lo) * (static_cast<double>(bits & ((1ULL << 53) - 1)) * 0x1.0p-53);
  }
  int integer(int lo, int hi) {  // inclusive
    return lo + static_cast<int>(uniform() * (hi - lo + 1)) % (hi - lo + 1);
  }
  bool chance(double p) { return uniform() < p; }
};

inline std::uint64_t mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Value noise in [0, 1): smooth at `cell` (in pixels), keyed by `salt`.
struct Noise {
  std::uint64_t salt;
  [[nodiscard]] double lattice(std::int64_t ix, std::int64_t iy) const {
    const std::uint64_t h = mix(salt ^ mix(static_cast<std::uint64_t>(ix) * 0x632BE59BD9B4E019ULL ^
                                           static_cast<std::uint64_t>(iy) * 0x85157AF5ULL));
    return static_cast<double>(h >> 11) * 0x1.0p-53;
  }
  [[nodiscard]] double smooth(double x, double y, double cell) const {
    const double fx = x / cell, fy = y / cell;
    const double x0 = std::floor(fx), y0 = std::floor(fy);
    double tx = fx - x0, ty = fy - y0;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const auto ix = static_cast<std::int64_t>(x0), iy = static_cast<std::int64_t>(y0);
    const double a = lattice(ix, iy), b = lattice(ix + 1, iy), c = lattice(ix, iy + 1), d = lattice(ix + 1, iy + 1);
    return (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
  }
  [[nodiscard]] double pixel(index_t x, index_t y) const { return lattice(x + 7919, y - 104729); }
};

struct Colour {
  double r, g, b;
  [[nodiscard]] Colour scaled(double s) const { return {r * s, g * s, b * s}; }
  [[nodiscard]] Colour mixed(const Colour& o, double t) const {
    return {r + (o.r - r) * t, g + (o.g - g) * t, b + (o.b - b) * t};
  }
};

inline Colour jitter(SceneRandom& rnd, Colour c, double amount) {
  return {c.r + rnd.uniform(-amount, amount), c.g + rnd.uniform(-amount, amount), c.b + rnd.uniform(-amount, amount)};
}

struct Facade {
  double left, right, top;  // u range, v of the roof
  bool tree;
  Colour colour;
  double window_u, window_v;  // window grid spacing (u, v units)
};

struct Car {
  double centre, width, bottom, height;  // u, u, v, v
  Colour colour;
};

struct Pole {
  double centre, width, bottom, top;  // u, u, v, v
  int head;                           // 0 none, 1 sign, 2 traffic light
  double head_size;                   // u units (height scales by aspect)
  Colour head_colour;
};

struct Person {
  double centre, width, bottom, height;
  Colour shirt;
};

}  // namespace procedural_detail

// Scene `index` of `seed` at height x width (both >= 8).
inline Scene generate_procedural_scene(std::uint64_t seed, index_t index, index_t height, index_t width,
                                       bool people = true) {
  using namespace procedural_detail;
  namespace id = cityscapes_id;
  if (height < 8 || width < 8)
    throw error("procedural scene: size must be at least 8x8, got " + std::to_string(height) + "x" + std::to_string(width));
  if (index < 0) throw error("procedural scene: index must be non-negative, got " + std::to_string(index));
  SceneRandom rnd{seed, static_cast<std::uint64_t>(index) ^ 0x5CE7E5000000000ULL};
  const double aspect = static_cast<double>(width) / static_cast<double>(height);  // v units per u unit

  // --- layout parameters -------------------------------------------------------------
  const double horizon = rnd.uniform(0.40, 0.52);
  const double vanish = rnd.uniform(0.38, 0.62);
  const double road_half = rnd.uniform(0.45, 0.7);   // at the bottom row, u units
  const double walk_extra = rnd.uniform(0.12, 0.22);
  const bool left_hedge = rnd.chance(0.4), right_hedge = rnd.chance(0.4);
  const Colour sky_top = jitter(rnd, {75, 125, 205}, 15), sky_low = jitter(rnd, {175, 200, 230}, 12);
  const Colour road_colour = jitter(rnd, {78, 78, 84}, 8), walk_colour = jitter(rnd, {178, 150, 158}, 10);
  const Colour leaf_colour = jitter(rnd, {62, 120, 40}, 10), grass_colour = jitter(rnd, {150, 175, 85}, 10);

  std::vector<Facade> facades;
  static constexpr std::array<Colour, 6> wall_colours{
      {{150, 150, 150}, {175, 160, 135}, {130, 110, 95}, {110, 110, 120}, {190, 180, 165}, {140, 125, 120}}};
  for (double u = -rnd.uniform(0.0, 0.1); u < 1.0;) {
    Facade f{};
    f.tree = rnd.chance(0.22);
    f.left = u;
    f.right = u + (f.tree ? rnd.uniform(0.05, 0.12) : rnd.uniform(0.07, 0.2));
    f.top = horizon - (f.tree ? rnd.uniform(0.08, 0.2) : rnd.uniform(0.1, 0.36));
    f.colour = f.tree ? jitter(rnd, leaf_colour, 10) : jitter(rnd, wall_colours[static_cast<std::size_t>(rnd.integer(0, 5))], 12);
    f.window_u = rnd.uniform(0.018, 0.03);
    f.window_v = f.window_u * aspect * rnd.uniform(1.1, 1.5);
    facades.push_back(f);
    u = f.right;
  }

  auto depth_v = [&](double t) { return horizon + t * (1.0 - horizon); };  // t in [0, 1]: horizon to bottom

  std::vector<Car> cars;
  static constexpr std::array<Colour, 6> car_colours{
      {{20, 30, 150}, {25, 25, 110}, {45, 45, 175}, {30, 60, 140}, {15, 20, 90}, {55, 35, 160}}};
  const int car_count = rnd.integer(1, 4);
  for (int k = 0; k < car_count; ++k) {
    Car c{};
    const double t = rnd.uniform(0.18, 0.9);
    c.width = 0.34 * t + 0.02;
    c.centre = vanish + rnd.uniform(-0.7, 0.7) * road_half * t;
    c.bottom = depth_v(t);
    c.height = 0.5 * c.width * aspect;
    c.colour = jitter(rnd, car_colours[static_cast<std::size_t>(rnd.integer(0, 5))], 15);
    cars.push_back(c);
  }
  std::sort(cars.begin(), cars.end(), [](const Car& a, const Car& b) { return a.bottom < b.bottom; });

  std::vector<Pole> poles;
  const int pole_count = rnd.integer(1, 3);
  for (int k = 0; k < pole_count; ++k) {
    Pole p{};
    const double t = rnd.uniform(0.2, 0.75), side = rnd.chance(0.5) ? -1.0 : 1.0;
    p.centre = vanish + side * t * (road_half + 0.5 * walk_extra);
    p.width = std::max(0.006 * (0.6 + t), 1.2 / static_cast<double>(width));
    p.bottom = depth_v(t);
    p.top = horizon - rnd.uniform(0.05, 0.25) * (0.5 + t);
    const double r = rnd.uniform();
    p.head = r < 0.55 ? 1 : (r < 0.8 ? 2 : 0);
    p.head_size = std::max(0.02 * (0.6 + t), 3.0 / static_cast<double>(width));
    p.head_colour = p.head == 1 ? jitter(rnd, {230, 205, 25}, 12) : jitter(rnd, {35, 35, 30}, 6);
    poles.push_back(p);
  }

  std::vector<Person> persons;
  const int person_count = people ? rnd.integer(0, 2) : 0;
  for (int k = 0; k < person_count; ++k) {
    Person q{};
    const double t = rnd.uniform(0.3, 0.85), side = rnd.chance(0.5) ? -1.0 : 1.0;
    q.centre = vanish + side * t * (road_half + rnd.uniform(0.2, 0.8) * walk_extra);
    q.height = 0.22 * t + 0.03;
    q.width = std::max(0.28 * q.height / aspect, 1.5 / static_cast<double>(width));
    q.bottom = depth_v(t);
    q.shirt = jitter(rnd, {205, 40, 70}, 20);
    persons.push_back(q);
  }

  // --- painting ---------------------------------------------------------------------
  Scene scene;
  scene.labels = Tensor<std::int32_t>(Shape{1, 1, height, width});
  scene.image = Tensor<std::uint8_t>(Shape{1, 3, height, width});
  std::vector<Colour> rgb(static_cast<std::size_t>(height * width));
  const Noise noise{mix(seed * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(index))};
  const double px_per_v = static_cast<double>(height);
  auto label = [&](index_t y, index_t x) -> std::int32_t& { return scene.labels[y * width + x]; };
  auto colour = [&](index_t y, index_t x) -> Colour& { return rgb[static_cast<std::size_t>(y * width + x)]; };
  const double cloud_cell = 0.25 * px_per_v, grain_cell = 0.06 * px_per_v;

  std::vector<const Facade*> column_facade(static_cast<std::size_t>(width));
  for (index_t x = 0; x < width; ++x) {
    const double u = (static_cast<double>(x) + 0.5) / static_cast<double>(width);
    for (const Facade& f : facades)
      if (u >= f.left && u < f.right) column_facade[static_cast<std::size_t>(x)] = &f;
  }

  for (index_t y = 0; y < height; ++y) {
    const double v = (static_cast<double>(y) + 0.5) / static_cast<double>(height);
    for (index_t x = 0; x < width; ++x) {
      const double u = (static_cast<double>(x) + 0.5) / static_cast<double>(width);
      const double grain = noise.smooth(static_cast<double>(x), static_cast<double>(y), grain_cell) - 0.5;
      std::int32_t cls;
      Colour c;
      if (v < horizon) {
        const Facade* f = column_facade[static_cast<std::size_t>(x)];
        double roof = f ? f->top : 2.0;
        if (f && f->tree) {  // a rounded crown
          const double mid = 0.5 * (f->left + f->right), half = 0.5 * (f->right - f->left);
          const double d = (u - mid) / half;
          roof = f->top + 0.6 * (horizon - f->top) * d * d;
        }
        if (f && v >= roof) {
          if (f->tree) {
            cls = id::vegetation;
            c = f->colour.scaled(1.0 + 0.45 * grain + 0.1 * (noise.pixel(x, y) - 0.5));
          } else {
            cls = id::building;
            const double wu = std::fmod(u - f->left, f->window_u) / f->window_u;
            const double wv = std::fmod(v - f->top, f->window_v) / f->window_v;
            const bool window = wu > 0.3 && wu < 0.75 && wv > 0.3 && wv < 0.75 && v < horizon - 0.02;
            c = window ? f->colour.scaled(0.55).mixed({60, 75, 100}, 0.4) : f->colour.scaled(1.0 + 0.12 * grain);
          }
        } else {
          cls = id::sky;
          const double cloud = std::max(0.0, noise.smooth(static_cast<double>(x), static_cast<double>(y), cloud_cell) - 0.55);
          c = sky_top.mixed(sky_low, v / horizon).mixed({235, 238, 242}, 1.6 * cloud);
        }
      } else {
        const double t = (v - horizon) / (1.0 - horizon);
        const double d = u - vanish, half = t * road_half, walk = half + t * walk_extra;
        if (std::abs(d) < half) {
          cls = id::road;
          c = road_colour.scaled(1.0 + 0.15 * grain + 0.08 * (noise.pixel(x, y) - 0.5));
          // Dashed centre line: dashes even in depth (1/t spacing), width growing with t.
          const bool dash = std::fmod(1.0 / (t + 0.05), 1.2) < 0.6;
          if (std::abs(d) < 0.012 * t + 0.3 / static_cast<double>(width) && dash && t > 0.05) c = {225, 225, 215};
        } else if (std::abs(d) < walk) {
          cls = id::sidewalk;
          const double joint = std::fmod((std::abs(d) - half) / std::max(t * walk_extra, 1e-6) * 3.0, 1.0);
          c = walk_colour.scaled(joint < 0.12 ? 0.8 : 1.0 + 0.1 * grain);
        } else {
          const bool hedge = d < 0 ? left_hedge : right_hedge;
          cls = hedge ? id::vegetation : id::terrain;
          c = (hedge ? leaf_colour : grass_colour).scaled(1.0 + 0.35 * grain + 0.1 * (noise.pixel(x, y) - 0.5));
        }
      }
      label(y, x) = cls;
      colour(y, x) = c;
    }
  }

  // Axis-aligned box in (u, v) -> pixel ranges, at least one pixel wide and tall.
  auto box = [&](double u0, double u1, double v0, double v1, auto&& paint) {
    index_t x0 = static_cast<index_t>(std::floor(u0 * static_cast<double>(width)));
    index_t x1 = static_cast<index_t>(std::ceil(u1 * static_cast<double>(width)));
    index_t y0 = static_cast<index_t>(std::floor(v0 * static_cast<double>(height)));
    index_t y1 = static_cast<index_t>(std::ceil(v1 * static_cast<double>(height)));
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1;
    for (index_t y = std::max<index_t>(y0, 0); y < std::min(y1, height); ++y)
      for (index_t x = std::max<index_t>(x0, 0); x < std::min(x1, width); ++x)
        paint(y, x, (static_cast<double>(x) + 0.5 - static_cast<double>(x0)) / static_cast<double>(x1 - x0),
              (static_cast<double>(y) + 0.5 - static_cast<double>(y0)) / static_cast<double>(y1 - y0));
  };

  for (const Pole& p : poles) {
    box(p.centre - 0.5 * p.width, p.centre + 0.5 * p.width, p.top, p.bottom, [&](index_t y, index_t x, double, double) {
      label(y, x) = id::pole;
      colour(y, x) = Colour{125, 125, 130}.scaled(1.0 + 0.1 * (noise.pixel(x, y) - 0.5));
    });
    if (p.head == 0) continue;
    const double hw = p.head_size, hh = p.head_size * aspect * (p.head == 2 ? 2.0 : 1.0);
    box(p.centre - 0.5 * hw, p.centre + 0.5 * hw, p.top - 0.2 * hh, p.top + 0.8 * hh,
        [&](index_t y, index_t x, double, double fv) {
          label(y, x) = p.head == 1 ? id::traffic_sign : id::traffic_light;
          Colour c = p.head_colour;
          if (p.head == 2 && fv < 0.35) c = {200, 40, 30};  // the lit lamp
          colour(y, x) = c;
        });
  }

  for (const Person& q : persons) {
    const double head = 0.18 * q.height;
    box(q.centre - 0.5 * q.width, q.centre + 0.5 * q.width, q.bottom - q.height + head, q.bottom,
        [&](index_t y, index_t x, double, double fv) {
          label(y, x) = id::person;
          colour(y, x) = fv < 0.55 ? q.shirt : Colour{50, 50, 70};
        });
    box(q.centre - 0.3 * q.width, q.centre + 0.3 * q.width, q.bottom - q.height, q.bottom - q.height + head,
        [&](index_t y, index_t x, double, double) {
          label(y, x) = id::person;
          colour(y, x) = {225, 180, 150};
        });
  }

  for (const Car& car : cars) {
    const double body_top = car.bottom - 0.6 * car.height;
    box(car.centre - 0.5 * car.width, car.centre + 0.5 * car.width, body_top, car.bottom,
        [&](index_t y, index_t x, double fu, double fv) {
          label(y, x) = id::car;
          const bool wheel = fv > 0.65 && (std::abs(fu - 0.2) < 0.1 || std::abs(fu - 0.8) < 0.1);
          colour(y, x) = wheel ? Colour{20, 20, 22} : car.colour.scaled(1.0 + 0.08 * (noise.pixel(x, y) - 0.5));
        });
    box(car.centre - 0.32 * car.width, car.centre + 0.32 * car.width, car.bottom - car.height, body_top,
        [&](index_t y, index_t x, double fu, double) {
          label(y, x) = id::car;
          colour(y, x) = fu > 0.12 && fu < 0.88 ? Colour{45, 55, 70} : car.colour;
        });
  }

  const index_t plane = height * width;
  for (index_t i = 0; i < plane; ++i) {
    const Colour& c = rgb[static_cast<std::size_t>(i)];
    scene.image[i] = static_cast<std::uint8_t>(std::clamp(std::lround(c.r), 0L, 255L));
    scene.image[plane + i] = static_cast<std::uint8_t>(std::clamp(std::lround(c.g), 0L, 255L));
    scene.image[2 * plane + i] = static_cast<std::uint8_t>(std::clamp(std::lround(c.b), 0L, 255L));
  }
  scene.name = "procedural_" + std::to_string(seed) + "_" + std::to_string(index);
  return scene;
}

// The procedural scenes behind the SceneDataset interface (K = 35, Cityscapes ids).
class ProceduralScenes final : public SceneDataset {
 public:
  explicit ProceduralScenes(ProceduralOptions options = {}) : options_(options) {
    if (options_.size < 1) throw error("ProceduralScenes: size must be positive, got " + std::to_string(options_.size));
    if (options_.height < 8 || options_.width < 8)
      throw error("ProceduralScenes: resolution must be at least 8x8, got " + std::to_string(options_.height) + "x" +
                  std::to_string(options_.width));
  }
  [[nodiscard]] index_t size() const override { return options_.size; }
  [[nodiscard]] std::int32_t num_classes() const override { return 35; }
  [[nodiscard]] Scene load(index_t i) const override {
    if (i < 0 || i >= size())
      throw error("ProceduralScenes: scene " + std::to_string(i) + " out of range (size " + std::to_string(size()) + ")");
    return generate_procedural_scene(options_.seed, i, options_.height, options_.width, options_.people);
  }
  [[nodiscard]] const ProceduralOptions& options() const { return options_; }

 private:
  ProceduralOptions options_;
};

}  // namespace sbgan::data
