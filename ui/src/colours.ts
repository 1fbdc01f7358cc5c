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

/** Swatches for the colour names the server gives objects (its palette). */
const NAMED_COLOURS: Record<string, string> = {
  black: "#111418",
  white: "#f4f6f8",
  grey: "#8a939e",
  red: "#e5484d",
  orange: "#f08c2e",
  yellow: "#f5d90a",
  green: "#30a46c",
  blue: "#3e7bfa",
  purple: "#8e4ec6",
  pink: "#f07bb5",
  brown: "#8a5a32",
};

export function namedColour(name: string): string {
  return NAMED_COLOURS[name] ?? "transparent";
}
