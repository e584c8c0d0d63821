// Carnet's banner inside Jupyter (issue 8): placeholder until it lands.
define([], function () {
  return {};
});
