import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import { session } from './api';

// Pages a kind of account may open; the server checks every call again.
const routes: RouteRecordRaw[] = [
  { path: '/', redirect: () => home() },
  { path: '/login', component: () => import('./views/LoginView.vue') },
  { path: '/services', component: () => import('./views/portal/ServicesView.vue') },
  { path: '/services/:code', component: () => import('./views/portal/ServiceGuideView.vue'), props: true },
  { path: '/applications', component: () => import('./views/portal/ApplicationsView.vue'), meta: { kinds: ['citizen', 'enterprise_user'] } },
  { path: '/applications/:id/edit', component: () => import('./views/portal/ApplyView.vue'), props: true, meta: { kinds: ['citizen', 'enterprise_user'] } },
  { path: '/applications/:id', component: () => import('./views/portal/ApplicationView.vue'), props: true, meta: { kinds: ['citizen', 'enterprise_user'] } },
  { path: '/licenses', component: () => import('./views/portal/LicensesView.vue'), meta: { kinds: ['citizen', 'enterprise_user'] } },
  { path: '/notifications', component: () => import('./views/NotificationsView.vue'), meta: { kinds: ['citizen', 'enterprise_user', 'official', 'supervisor', 'operator'] } },
  { path: '/data-reads', component: () => import('./views/portal/DataReadsView.vue'), meta: { kinds: ['citizen', 'enterprise_user'] } },
  { path: '/workbench', component: () => import('./views/workbench/InboxView.vue'), meta: { kinds: ['official'] } },
  { path: '/workbench/applications/:id', component: () => import('./views/workbench/ReviewView.vue'), props: true, meta: { kinds: ['official'] } },
  { path: '/workbench/intake', component: () => import('./views/workbench/IntakeView.vue'), meta: { kinds: ['official'] } },
  { path: '/workbench/catalog', component: () => import('./views/workbench/CatalogView.vue'), meta: { kinds: ['official'] } },
  { path: '/supervision', component: () => import('./views/supervision/DashboardView.vue'), meta: { kinds: ['supervisor'] } },
  { path: '/console', component: () => import('./views/console/ConsoleView.vue'), meta: { kinds: ['operator'] } },
  { path: '/:unknown(.*)*', redirect: '/' },
];

export function home(): string {
  switch (session.account?.kind) {
    case 'official': return '/workbench';
    case 'supervisor': return '/supervision';
    case 'operator': return '/console';
    case 'citizen':
    case 'enterprise_user': return '/applications';
    default: return '/services';
  }
}

export const router = createRouter({ history: createWebHistory(), routes });

router.beforeEach((to) => {
  const kinds = to.meta.kinds as string[] | undefined;
  if (!kinds) return true;
  if (!session.account) return { path: '/login', query: { next: to.fullPath } };
  if (!kinds.includes(session.account.kind)) return home();
  return true;
});
