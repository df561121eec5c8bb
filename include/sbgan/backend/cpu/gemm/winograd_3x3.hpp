#pragma once
// 3×3 stride-1 convolution by Winograd's F(2×2, 3×3): each 2×2 block of outputs is
// 16 products per (input, output) channel pair instead of 36, so the GEMM work is
// 2.25× smaller than im2col's. With g the 3×3 filter, d a 4×4 input tile, and
//   G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]       (4×3)
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]                 (2×4)
// a tile of the output is Aᵀ·[Σ_c (G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A. The sum over c is one GEMM
// per position ξ of the 4×4 tile: M_ξ[o, t] = Σ_c U_ξ[o, c]·V_ξ[c, t], on sbgan's
// blocked GEMM. Tiles go in chunks, so the transformed input and the products stay a
// few MiB whatever the image size.
//
// F(2×2, 3×3) is the well-conditioned member of the family (its transforms hold only
// 0, ±1 and ±½, exact in binary): against a double-precision reference the float
// result's error is of the order of im2col's own (measured in tests/test_core.cpp).
#include <algorithm>

#include "sbgan/backend/cpu/gemm/blocked_gemm.hpp"
#include "sbgan/backend/cpu/parallel.hpp"
#include "sbgan/core/tensor.hpp"
#include "sbgan/core/window.hpp"

namespace sbgan::cpu_detail::gemm {

// Where Winograd pays: a 3×3 stride-1 window with padding up to 2 (stride-1 input
// gradients of padded 3×3 convolutions have padding 2 − p), an output of at least
// one tile, and 32 or more channels each way: the transforms cost O(C) per tile
// against the GEMMs' O(C²), so below that the saving is small, and small networks
// (the trainer's learning tests, 16 channels) keep im2col's rounding.
// (The transform stages one row of tiles on the stack, hence the width limit.)
inline constexpr index_t max_row_tiles = 512;
inline bool winograd_applies(const Window2d& g, index_t cin, index_t cout, index_t out_h, index_t out_w) {
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h <= 2 &&
         g.pad_w <= 2 && cin >= 32 && cout >= 32 && out_h >= 2 && out_w >= 2 && (out_w + 1) / 2 <= max_row_tiles;
}

// The 16 planes of a transformed chunk (ξ = 0 … 15) are read and written together;
// planes a multiple of 4 KiB apart would share L1 sets (16 streams, 12 ways), so
// each is padded by 16 cache lines.
inline index_t winograd_plane(index_t elements) { return elements + 256; }

// U_ξ = G·g·Gᵀ for every filter, stored as 16 row-major [cout, cin] matrices, one per
// (padded) plane.
template <class T>
Tensor<T, cpu> winograd_filters(const T* weight, index_t cout, index_t cin) {
  const index_t plane = winograd_plane(cout * cin);
  Tensor<T, cpu> u(Shape{16, plane});
  T* out = u.data();
  parallel_for(
      cout,
      [&](index_t o) {
        for (index_t c = 0; c < cin; ++c) {
          const T* g = weight + (o * cin + c) * 9;
          T t[4][3];  // G·g
          for (int j = 0; j < 3; ++j) {
            t[0][j] = g[j];
            t[1][j] = (g[j] + g[3 + j] + g[6 + j]) * T(0.5);
            t[2][j] = (g[j] - g[3 + j] + g[6 + j]) * T(0.5);
            t[3][j] = g[6 + j];
          }
          for (int i = 0; i < 4; ++i) {  // (G·g)·Gᵀ
            const T r[4] = {t[i][0], (t[i][0] + t[i][1] + t[i][2]) * T(0.5), (t[i][0] - t[i][1] + t[i][2]) * T(0.5),
                            t[i][2]};
            for (int j = 0; j < 4; ++j) out[(4 * i + j) * plane + o * cin + c] = r[j];
          }
        }
      },
      cin * 9);
  return u;
}

// Tiles of the output are numbered row by row: tile t covers outputs
// [2·(t / tiles_w), +2) × [2·(t % tiles_w), +2) and reads the 4×4 input patch at
// (2·(t / tiles_w) − pad_h, 2·(t % tiles_w) − pad_w), zero outside the image.
struct WinogradTiling {
  index_t out_h, out_w, tiles_w, tiles;
  WinogradTiling(const Window2d& g, index_t h, index_t w)
      : out_h(g.out_h(h)), out_w(g.out_w(w)), tiles_w((out_w + 1) / 2), tiles(((out_h + 1) / 2) * tiles_w) {}
  // Tiles per chunk: whole register-tile columns, about 4 MiB of transformed tiles.
  template <class T>
  index_t chunk(index_t channels) const {
    constexpr index_t NR = Tile<T>::cols;
    const index_t budget = (index_t{4} << 20) / (16 * channels * static_cast<index_t>(sizeof(T)));
    return std::min(tiles, std::max(NR, budget / NR * NR));
  }
};


// V_ξ[c, t − t0] = (Bᵀ·d_t·B)_ξ for tiles t0 … t0 + tc − 1 of one image x [cin, h, w]:
// v + ξ·plane + c·ld + t − t0. One row of tiles at a time: the tiles' four input rows are
// copied with their padding zeros into even and odd columns first, so that every
// read and write of the transform runs along t with unit stride.
template <class T>
void winograd_input_tiles(const T* x, index_t cin, index_t h, index_t w, const Window2d& g,
                          const WinogradTiling& tiling, index_t t0, index_t tc, T* v, index_t ld,
                          index_t plane) {
  const index_t tiles_w = tiling.tiles_w;
  parallel_for(
      cin,
      [&](index_t c) {
        const index_t span = tiles_w + 1;
        T columns[2][4][max_row_tiles + 1];  // [even/odd][row i][k]: x[iy_i, 2k + parity − pad_w]
        const T* xc = x + c * h * w;
        for (index_t ty = t0 / tiles_w; ty * tiles_w < t0 + tc; ++ty) {
          for (int i = 0; i < 4; ++i) {
            const index_t iy = 2 * ty - g.pad_h + i;
            for (int parity = 0; parity < 2; ++parity) {
              // Columns ix = 2k + parity − pad_w inside the image: k in [k0, k1).
              const index_t first = parity - g.pad_w;
              const index_t k0 = first >= 0 ? 0 : (1 - first) / 2;
              const index_t k1 = std::max(k0, std::min(span, (w - first + 1) / 2));
              T* col = columns[parity][i];
              if (iy < 0 || iy >= h) {
                for (index_t k = 0; k < span; ++k) col[k] = T(0);
                continue;
              }
              const T* row = xc + iy * w + first;
              for (index_t k = 0; k < k0; ++k) col[k] = T(0);
              for (index_t k = k0; k < k1; ++k) col[k] = row[2 * k];
              for (index_t k = k1; k < span; ++k) col[k] = T(0);
            }
          }
          const index_t row_start = ty * tiles_w;
          const index_t tx_begin = std::max(t0, row_start) - row_start;
          const index_t tx_end = std::min(t0 + tc, row_start + tiles_w) - row_start;
          T* out = v + c * ld + (row_start - t0);
#pragma GCC ivdep
          for (index_t tx = tx_begin; tx < tx_end; ++tx) {
            T d[4][4];
            for (int i = 0; i < 4; ++i) {
              d[i][0] = columns[0][i][tx];
              d[i][1] = columns[1][i][tx];
              d[i][2] = columns[0][i][tx + 1];
              d[i][3] = columns[1][i][tx + 1];
            }
            T b[4][4];  // Bᵀ·d
            for (int j = 0; j < 4; ++j) {
              b[0][j] = d[0][j] - d[2][j];
              b[1][j] = d[1][j] + d[2][j];
              b[2][j] = d[2][j] - d[1][j];
              b[3][j] = d[1][j] - d[3][j];
            }
            for (int i = 0; i < 4; ++i) {  // (Bᵀ·d)·B
              out[(4 * i + 0) * plane + tx] = b[i][0] - b[i][2];
              out[(4 * i + 1) * plane + tx] = b[i][1] + b[i][2];
              out[(4 * i + 2) * plane + tx] = b[i][2] - b[i][1];
              out[(4 * i + 3) * plane + tx] = b[i][1] - b[i][3];
            }
          }
        }
      },
      tc * 16);
}

// y (+)= conv(x, weight) for one image: x [cin, h, w], y [cout, out_h, out_w], with
// u = winograd_filters(weight). accumulate adds into y instead of assigning it.
template <class T>
void winograd_3x3(const Tensor<T, cpu>& u, const T* x, index_t cin, index_t h, index_t w, index_t cout,
                  const Window2d& g, T* y, bool accumulate) {
  const WinogradTiling tiling(g, h, w);
  const index_t oh = tiling.out_h, ow = tiling.out_w, tiles_w = tiling.tiles_w, tiles = tiling.tiles;
  const index_t chunk = tiling.chunk<T>(std::max(cin, cout));
  const index_t v_plane = winograd_plane(cin * chunk), m_plane = winograd_plane(cout * chunk);
  Tensor<T, cpu> v(Shape{16, v_plane}), m(Shape{16, m_plane});
  for (index_t t0 = 0; t0 < tiles; t0 += chunk) {
    const index_t tc = std::min(chunk, tiles - t0);
    winograd_input_tiles(x, cin, h, w, g, tiling, t0, tc, v.data(), chunk, v_plane);
    // M_ξ = U_ξ·V_ξ
    for (index_t xi = 0; xi < 16; ++xi)
      blocked_gemm<T>(cout, tc, cin, RowMajorA<T>{u.data() + xi * u.shape()[1], cin},
                      RowMajorB<T>{v.data() + xi * v_plane, chunk}, m.data() + xi * m_plane, chunk, false);
    // y tile = Aᵀ·M·A
    const T* ms = m.data();
    parallel_for(
        cout,
        [&](index_t o) {
          T* yo = y + o * oh * ow;
          for (index_t t = 0; t < tc; ++t) {
            T p[4][4];
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) p[i][j] = ms[(4 * i + j) * m_plane + o * chunk + t];
            T a[2][4];  // Aᵀ·M
            for (int j = 0; j < 4; ++j) {
              a[0][j] = p[0][j] + p[1][j] + p[2][j];
              a[1][j] = p[1][j] - p[2][j] - p[3][j];
            }
            const index_t ty = (t0 + t) / tiles_w, tx = (t0 + t) % tiles_w;
            for (int i = 0; i < 2; ++i) {
              const index_t oy = 2 * ty + i;
              if (oy >= oh) break;
              const T r[2] = {a[i][0] + a[i][1] + a[i][2], a[i][1] - a[i][2] - a[i][3]};  // (Aᵀ·M)·A
              for (int j = 0; j < 2; ++j) {
                const index_t ox = 2 * tx + j;
                if (ox >= ow) break;
                T& out = yo[oy * ow + ox];
                out = accumulate ? out + r[j] : r[j];
              }
            }
          }
        },
        tc * 16);
  }
}

}  // namespace sbgan::cpu_detail::gemm
