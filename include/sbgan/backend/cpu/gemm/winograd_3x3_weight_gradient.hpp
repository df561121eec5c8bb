#pragma once
// The weight gradient of a 3×3 stride-1 convolution by Winograd's F(3×3, 2×2), the
// dual of the forward's F(2×2, 3×3). Per output tile t (2×2 of dy, written z_t) and
// its 4×4 input patch d_t, dW = Σ_t corr(d_t, z_t), a 3×3 correlation; the forward's
// identity  Σ_i z_i Σ_k g_k d_{i+k} = Σ_ξ (A·z)_ξ (G·g)_ξ (Bᵀ·d)_ξ,  differentiated in
// g, gives it with the same three matrices:
//   dW = Gᵀ·[Σ_t (A·z_t·Aᵀ) ⊙ (Bᵀ·d_t·B)]·G,   A = [1 0; 1 1; 1 −1; 0 −1] (4×2).
// The sum over t is one GEMM per position ξ: P_ξ[o, c] = Σ_t Z_ξ[o, t]·V_ξ[c, t], K
// running over tiles (2.25× fewer multiply-adds than im2col's K over pixels), V_ξ
// being the forward's input transform. Gᵀ·P·G is applied once, after every image.
#include <algorithm>

#include "sbgan/backend/cpu/gemm/winograd_3x3.hpp"

namespace sbgan::cpu_detail::gemm {

// Pᵀ_ξ (+)= Σ_t V_ξ·Z_ξᵀ for one image: x [cin, h, w], dy [cout, out_h, out_w];
// p holds 16 planes of winograd_plane(cin·cout), each [cin, cout]. accumulate adds
// into p instead of assigning it.
template <class T>
void winograd_weight_products(const T* x, index_t cin, index_t h, index_t w, const T* dy, index_t cout,
                              const Window2d& g, T* p, bool accumulate) {
  const WinogradTiling tiling(g, h, w);
  const index_t oh = tiling.out_h, ow = tiling.out_w, tiles_w = tiling.tiles_w, tiles = tiling.tiles;
  const index_t chunk = tiling.chunk<T>(std::max(cin, cout));
  const index_t v_plane = winograd_plane(cin * chunk), z_plane = winograd_plane(chunk * cout);
  Tensor<T, cpu> v(Shape{16, v_plane}), z(Shape{16, z_plane});
  for (index_t t0 = 0; t0 < tiles; t0 += chunk) {
    const index_t tc = std::min(chunk, tiles - t0);
    winograd_input_tiles(x, cin, h, w, g, tiling, t0, tc, v.data(), chunk, v_plane);
    // Zᵀ_ξ[t, o] = (A·z_t·Aᵀ)_ξ, outputs past the edge read as zero; stored tile-major
    // (unlike V) so that both operands of the GEMM below read along K with unit
    // stride. Blocks of 16 channels write whole cache lines per tile.
    constexpr index_t block = 16;
    T* zs = z.data();
    parallel_for(
        (cout + block - 1) / block,
        [&](index_t ob) {
          const index_t o0 = ob * block, nb = std::min(block, cout - o0);
          const index_t plane = z_plane;
          for (index_t t = 0; t < tc; ++t) {
            const index_t oy = 2 * ((t0 + t) / tiles_w), ox = 2 * ((t0 + t) % tiles_w);
            const bool inside = oy + 1 < oh && ox + 1 < ow;
            T* out = zs + t * cout + o0;
            for (index_t r = 0; r < nb; ++r) {
              const T* dyo = dy + (o0 + r) * oh * ow + oy * ow + ox;
              T q[2][2];
              if (inside) {
                q[0][0] = dyo[0], q[0][1] = dyo[1], q[1][0] = dyo[ow], q[1][1] = dyo[ow + 1];
              } else {
                for (int i = 0; i < 2; ++i)
                  for (int j = 0; j < 2; ++j) q[i][j] = oy + i < oh && ox + j < ow ? dyo[i * ow + j] : T(0);
              }
              const T a[4][2] = {{q[0][0], q[0][1]},  // A·z
                                 {q[0][0] + q[1][0], q[0][1] + q[1][1]},
                                 {q[0][0] - q[1][0], q[0][1] - q[1][1]},
                                 {-q[1][0], -q[1][1]}};
              for (int i = 0; i < 4; ++i) {  // (A·z)·Aᵀ
                out[(4 * i + 0) * plane + r] = a[i][0];
                out[(4 * i + 1) * plane + r] = a[i][0] + a[i][1];
                out[(4 * i + 2) * plane + r] = a[i][0] - a[i][1];
                out[(4 * i + 3) * plane + r] = -a[i][1];
              }
            }
          }
        },
        tc * 16 * block);
    // Pᵀ_ξ[c, o] (+)= Σ_t V_ξ[c, t]·Zᵀ_ξ[t, o]
    const bool add = accumulate || t0 > 0;
    for (index_t xi = 0; xi < 16; ++xi)
      blocked_gemm<T>(cin, cout, tc, RowMajorA<T>{v.data() + xi * v_plane, chunk},
                      RowMajorB<T>{z.data() + xi * z_plane, cout}, p + xi * winograd_plane(cin * cout), cout, add);
  }
}

// dweight [cout, cin, 3, 3] += Gᵀ·P·G, with p = Σ over images of winograd_weight_products.
template <class T>
void winograd_weight_gradient_add(const T* p, index_t cout, index_t cin, T* dweight) {
  // Blocks of 16 output channels read whole cache lines of each plane.
  constexpr index_t block = 16;
  const index_t plane = winograd_plane(cin * cout);
  parallel_for(
      (cout + block - 1) / block,
      [&](index_t ob) {
        const index_t o0 = ob * block, nb = std::min(block, cout - o0);
        for (index_t c = 0; c < cin; ++c)
          for (index_t r = 0; r < nb; ++r) {
            const index_t o = o0 + r;
            T m[4][4];
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) m[i][j] = p[(4 * i + j) * plane + c * cout + o];
            T q[3][4];  // Gᵀ·P, Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]
            for (int j = 0; j < 4; ++j) {
              q[0][j] = m[0][j] + (m[1][j] + m[2][j]) * T(0.5);
              q[1][j] = (m[1][j] - m[2][j]) * T(0.5);
              q[2][j] = (m[1][j] + m[2][j]) * T(0.5) + m[3][j];
            }
            T* dw = dweight + (o * cin + c) * 9;
            for (int i = 0; i < 3; ++i) {  // (Gᵀ·P)·G
              dw[3 * i + 0] += q[i][0] + (q[i][1] + q[i][2]) * T(0.5);
              dw[3 * i + 1] += (q[i][1] - q[i][2]) * T(0.5);
              dw[3 * i + 2] += (q[i][1] + q[i][2]) * T(0.5) + q[i][3];
            }
          }
      },
      cin * 16 * block);
}

}  // namespace sbgan::cpu_detail::gemm
