// Colours shared by the box overlay and the detections list.

/** Stable per-class colour, so a class keeps its colour across tiles. */
const CLASS_COLOURS: Record<string, string> = {
  person: "#ffd166",
  car: "#4cc9f0",
  truck: "#5ee6b0",
  bus: "#5ee6b0",
  bicycle: "#f79dff",
  motorcycle: "#f79dff",
};
const FALLBACK_COLOURS = ["#ff9f5a", "#9ad0ff", "#c3f584", "#ffa3c4", "#d6bcff"];

export function classColour(cls: string): string {
  const known = CLASS_COLOURS[cls];
  if (known) return known;
  let hash = 0;
  for (let i = 0; i < cls.length; i++) hash = (hash * 31 + cls.charCodeAt(i)) >>> 0;
  return FALLBACK_COLOURS[hash % FALLBACK_COLOURS.length] ?? "#ffffff";
}
