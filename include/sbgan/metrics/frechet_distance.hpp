#pragma once
// The Fréchet distance between two sets of feature vectors, each summarised by a
// Gaussian (mean μ, covariance Σ, the unbiased estimate as numpy.cov takes it):
//
//   d² = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2·tr((Σ₁ Σ₂)^½)
//
// the quantity FID reports when the features are Inception pool activations.
// tr((Σ₁Σ₂)^½) is computed as Σᵢ √λᵢ of the symmetric positive semi-definite
// matrix Σ₁^½ Σ₂ Σ₁^½ (similar to Σ₁Σ₂, so the same eigenvalues), in double,
// without the complex square root scipy.linalg.sqrtm needs; eigenvalues that
// rounding leaves slightly negative count as 0.
#include <cmath>
#include <string>

#include <Eigen/Dense>

#include "sbgan/core/error.hpp"

namespace sbgan {

struct GaussianStatistics {
  Eigen::VectorXd mean;
  Eigen::MatrixXd covariance;
};

// Rows are samples, columns features; at least two samples.
inline GaussianStatistics gaussian_statistics(const Eigen::MatrixXd& features, const std::string& what = "features") {
  if (features.rows() < 2 || features.cols() < 1)
    throw error("frechet_distance: " + what + " needs at least 2 samples of at least 1 feature, got " +
                std::to_string(features.rows()) + "x" + std::to_string(features.cols()));
  if (!features.allFinite()) throw error("frechet_distance: " + what + " holds a NaN or infinite value");
  GaussianStatistics s;
  s.mean = features.colwise().mean().transpose();
  const Eigen::MatrixXd centred = features.rowwise() - s.mean.transpose();
  s.covariance = centred.transpose() * centred / double(features.rows() - 1);
  return s;
}

// √max(v, 0) element-wise, as a plain loop (Eigen's packet sqrt trips a false
// -Wuninitialized in GCC 12's AVX-512 headers).
inline Eigen::VectorXd sqrt_clamped(const Eigen::VectorXd& v) {
  Eigen::VectorXd r(v.size());
  for (Eigen::Index i = 0; i < v.size(); ++i) r[i] = v[i] > 0 ? std::sqrt(v[i]) : 0.0;
  return r;
}

inline double frechet_distance(const GaussianStatistics& a, const GaussianStatistics& b) {
  if (a.mean.size() != b.mean.size())
    throw error("frechet_distance: feature sizes differ (" + std::to_string(a.mean.size()) + " and " +
                std::to_string(b.mean.size()) + ")");
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> first(a.covariance);
  const Eigen::VectorXd roots = sqrt_clamped(first.eigenvalues());
  const Eigen::MatrixXd sqrt_a = first.eigenvectors() * roots.asDiagonal() * first.eigenvectors().transpose();
  const Eigen::MatrixXd inner = sqrt_a * b.covariance * sqrt_a;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> second((inner + inner.transpose()) / 2, Eigen::EigenvaluesOnly);
  const double trace_sqrt = sqrt_clamped(second.eigenvalues()).sum();
  const double d = (a.mean - b.mean).squaredNorm() + a.covariance.trace() + b.covariance.trace() - 2 * trace_sqrt;
  return std::max(d, 0.0);
}

inline double frechet_distance(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return frechet_distance(gaussian_statistics(a, "the first set"), gaussian_statistics(b, "the second set"));
}

}  // namespace sbgan
