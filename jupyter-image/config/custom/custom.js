// Carnet's custom.js, root-owned and read-only: served instead of anything a student writes in
// ~/.jupyter/custom/custom.js (their config dir is not Jupyter's). Intentionally empty for now.
