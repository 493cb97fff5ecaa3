// Where a dragged reply lands in the ranking list, whose replies can differ in height by a screen
// or more. dnd-kit's closestCenter compares centres: a short reply dragged past a tall one skips
// places, and sortableKeyboardCoordinates (which picks the next item by its corners) jumps over
// tall replies or stays put. Here each place the dragged reply can take has one top edge, the
// one verticalListSortingStrategy draws it at; the nearest edge wins, and an arrow key moves the
// reply to the next edge, so every press moves exactly one place whatever the heights.
import type { Active, CollisionDescriptor, CollisionDetection, KeyboardCoordinateGetter, UniqueIdentifier } from "@dnd-kit/core";

export interface Span {
  top: number;
  bottom: number;
}

/**
 * Top edge of the dragged reply (index `from`) in each place: above its own place it takes the
 * top of the reply it displaces, below it lines up with that reply's bottom.
 */
export function placeTops(spans: readonly Span[], from: number): number[] {
  const height = spans[from].bottom - spans[from].top;
  return spans.map((s, i) => (i <= from ? s.top : s.bottom - height));
}

/** Index of the place whose top edge is nearest `top` (the first on a tie). */
export function nearestPlace(tops: readonly number[], top: number): number {
  let best = 0;
  for (let i = 1; i < tops.length; i++) if (Math.abs(tops[i] - top) < Math.abs(tops[best] - top)) best = i;
  return best;
}

interface SortableData {
  sortable?: { items: UniqueIdentifier[]; index: number };
}

/** The list's ids in order with their measured spans, and the dragged reply's index; null before measuring. */
function listGeometry(active: Active | null, rectOf: (id: UniqueIdentifier) => Span | undefined): { ids: UniqueIdentifier[]; tops: number[] } | null {
  const sortable = (active?.data.current as SortableData | undefined)?.sortable;
  if (!active || !sortable) return null;
  const spans: Span[] = [];
  for (const id of sortable.items) {
    const rect = rectOf(id);
    if (!rect) return null;
    spans.push({ top: rect.top, bottom: rect.bottom });
  }
  const from = sortable.items.indexOf(active.id);
  return from < 0 ? null : { ids: sortable.items, tops: placeTops(spans, from) };
}

/** Collision detection: every place, nearest first, by the dragged rect's top edge. */
export const nearestPlaceCollision: CollisionDetection = ({ active, collisionRect, droppableRects, droppableContainers }) => {
  const geometry = listGeometry(active, (id) => droppableRects.get(id));
  if (!geometry) return [];
  const containers = new Map(droppableContainers.map((c) => [c.id, c]));
  const collisions: CollisionDescriptor[] = [];
  geometry.ids.forEach((id, i) => {
    const droppableContainer = containers.get(id);
    if (droppableContainer) collisions.push({ id, data: { droppableContainer, value: Math.abs(geometry.tops[i] - collisionRect.top) } });
  });
  return collisions.sort((a, b) => a.data.value - b.data.value);
};

/**
 * Keyboard sensor coordinates: ArrowUp/ArrowDown put the dragged reply's top edge on the place
 * above or below the one it is nearest. The rects are read live (they follow the page's scroll),
 * so presses quicker than the sensor's scrolling still count one place each.
 */
export const placeKeyboardCoordinates: KeyboardCoordinateGetter = (event, { context }) => {
  const step = event.code === "ArrowDown" ? 1 : event.code === "ArrowUp" ? -1 : 0;
  if (step === 0) return undefined;
  event.preventDefault();
  const { active, collisionRect, droppableRects } = context;
  if (!collisionRect) return undefined;
  const geometry = listGeometry(active, (id) => droppableRects.get(id));
  if (!geometry) return undefined;
  const next = nearestPlace(geometry.tops, collisionRect.top) + step;
  if (next < 0 || next >= geometry.tops.length) return undefined;
  return { x: collisionRect.left, y: geometry.tops[next] };
};
