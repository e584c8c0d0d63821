// Carnet's custom.js, root-owned and read-only: served instead of anything a student writes in
// ~/.jupyter/custom/custom.js (their config dir is not Jupyter's). It loads Carnet's parts of the page, each its own
// file next to this one (served by Jupyter at <base_url>custom/<name>.js):
//   carnet-banner.js  the banner (activity, deadline, « Rendre », « Mes copies »), French UI touches
//   carnet-guard.js   saving before a stop, the page after a stop, the teacher's read-only view
require(["custom/carnet-banner", "custom/carnet-guard"], function () {}, function (err) {
  console.error("carnet: custom parts not loaded", err);
});
