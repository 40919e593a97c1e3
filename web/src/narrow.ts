import { onBeforeUnmount, ref } from 'vue';

// Whether the window is phone-sized (at most 640 px), for layouts that change with it.
export function useNarrow() {
  const query = window.matchMedia('(max-width: 640px)');
  const narrow = ref(query.matches);
  const change = (event: MediaQueryListEvent) => (narrow.value = event.matches);
  query.addEventListener('change', change);
  onBeforeUnmount(() => query.removeEventListener('change', change));
  return narrow;
}
