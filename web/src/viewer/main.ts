const app = document.querySelector('#app');
if (app) app.textContent = 'runlake file viewer';

export {};
