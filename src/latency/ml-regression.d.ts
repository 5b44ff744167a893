// ml-regression ships no type declarations; the part used here.
declare module 'ml-regression' {
  import MultivariateLinearRegression from 'ml-regression-multivariate-linear';
  export { MultivariateLinearRegression };
}
