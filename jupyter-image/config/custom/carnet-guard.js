// Carnet's guard inside Jupyter (issue 8): saving before a stop, read-only teacher view. Placeholder until it lands.
define([], function () {
  return {};
});
